// Carnet's Android build: the bindings library, the shells' shared logic
// (plain Kotlin, tested on the JVM) and the Compose app.
// Build: see android/README.md and docs/adr/0008-shells.md.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "carnet-android"

include(":carnet", ":shared-logic", ":app")
