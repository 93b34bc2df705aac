// The bindings as an Android library: the generated Kotlin
// (src/main/kotlin, written by scripts/bindings.sh generate, never edited)
// plus libcarnet_ffi.so for each ABI (src/main/jniLibs, built by
// ../build-rust.sh with cargo-ndk, 16 KB page-aligned) and JNA's AAR.
plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "org.carnet.core"
    compileSdk = libs.versions.compile.sdk.get().toInt()
    ndkVersion = libs.versions.ndk.get()

    defaultConfig {
        minSdk = libs.versions.min.sdk.get().toInt()
        consumerProguardFiles("consumer-rules.pro")
    }

    sourceSets["main"].jniLibs.srcDir("src/main/jniLibs")

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    packaging {
        // Stored uncompressed and page-aligned in the APK, loaded in place.
        jniLibs.useLegacyPackaging = false
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    // JNA's AAR carries libjnidispatch.so for every ABI.
    api(libs.jna) { artifact { type = "aar" } }
    api(libs.kotlinx.coroutines.core)
}

// `./gradlew :carnet:buildRust` rebuilds the native libraries (needs the NDK and cargo-ndk).
tasks.register<Exec>("buildRust") {
    group = "build"
    description = "Builds libcarnet_ffi.so for every ABI into src/main/jniLibs (../build-rust.sh)."
    workingDir = rootProject.projectDir
    commandLine("bash", "build-rust.sh")
}
