// The Android build: the app (Compose screens, FCM, notifications, the Android implementations
// of the presentation module's interfaces) and the plain-Kotlin presentation module it sits on.
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

rootProject.name = "assent-android"
include(":app", ":presentation")
