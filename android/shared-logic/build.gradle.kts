// The shells' platform-independent logic: screen state machines as plain
// Kotlin classes, no Android imports. It compiles against the generated
// bindings (a compile-only source set over ../carnet/src/main/kotlin; the app
// gets those classes from :carnet) and its tests run on the JVM against the
// host library target/debug/libcarnet_ffi.so.
//
//   ./gradlew :shared-logic:jvmTest     (live tests need the backend: use scripts/shells-check.sh)
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

val repoRoot: File = rootProject.projectDir.parentFile

sourceSets {
    val bindings by creating {
        kotlin.srcDir("../carnet/src/main/kotlin")
    }
    main {
        compileClasspath += bindings.output
    }
    test {
        // The test runner shared with the bindings' tests.
        kotlin.srcDir("../../bindings/tests/kotlin-harness")
        compileClasspath += bindings.output
        runtimeClasspath += bindings.output
    }
}

dependencies {
    "bindingsImplementation"(libs.jna)
    "bindingsImplementation"(libs.kotlinx.coroutines.core)
    compileOnly(libs.jna)
    implementation(libs.kotlinx.coroutines.core)
    testImplementation(libs.jna)
}

// The tests use a small runner (bindings/tests/kotlin-harness/Harness.kt,
// shared with the bindings' tests) that prints `N passed, M failed`.
val jvmTest by tasks.registering(JavaExec::class) {
    group = "verification"
    description = "Runs the shared-logic tests on the JVM against the host library."
    classpath = sourceSets["test"].runtimeClasspath
    mainClass.set("org.carnet.shell.test.MainKt")
    workingDir = repoRoot
    systemProperty("jna.library.path", repoRoot.resolve("target/debug").path)
    systemProperty("carnet.repo", repoRoot.path)
    // CARNET_SERVER_URL, CARNET_CA_PEM and CARNET_BACKEND_LOG come from the
    // environment; without them the live tests report themselves skipped.
}

tasks.named("check") {
    dependsOn(jvmTest)
}
