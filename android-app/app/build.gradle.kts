// The Android app: Compose screens, the FCM service, notifications and the Android
// implementations of the presentation module's interfaces. The Rust library and the brand
// icons are built from the repository before every build (preBuild), into build/.
import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

val repository: File = rootDir.parentFile

/** libassent_core.so per ABI, from scripts/build-android.sh (cargo-ndk). */
val rustJniLibs: File = layout.buildDirectory.dir("rust/jniLibs").get().asFile

/** The brand icons as VectorDrawables (`res/drawable/brand_<slug>.xml`), from scripts/icons.py. */
val brandIconRes: File = layout.buildDirectory.dir("generated/brandIcons/res").get().asFile

/**
 * A Firebase value from the Gradle property `assent.firebase.NAME` (gradle.properties,
 * ~/.gradle/gradle.properties or -P), as a Java string literal for BuildConfig. There is no
 * google-services.json: a fork or an F-Droid-like build configures its own project, or none.
 */
fun firebase(name: String): String {
    val value = providers.gradleProperty("assent.firebase.$name").orNull.orEmpty()
    return "\"" + value.replace("\\", "\\\\").replace("\"", "\\\"") + "\""
}

android {
    namespace = "org.assent.app"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.assent.app"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"

        buildConfigField("String", "FIREBASE_PROJECT_ID", firebase("projectId"))
        buildConfigField("String", "FIREBASE_APPLICATION_ID", firebase("applicationId"))
        buildConfigField("String", "FIREBASE_API_KEY", firebase("apiKey"))
        buildConfigField("String", "FIREBASE_SENDER_ID", firebase("senderId"))
    }

    buildTypes {
        release {
            isMinifyEnabled = true
            isShrinkResources = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    buildFeatures {
        compose = true
        buildConfig = true
    }

    sourceSets.getByName("main") {
        jniLibs.srcDir(rustJniLibs)
        res.srcDir(brandIconRes)
    }
}

kotlin {
    compilerOptions { jvmTarget.set(JvmTarget.JVM_17) }
}

dependencies {
    implementation(project(":presentation"))
    // JNA as its Android archive: the classes plus libjnidispatch.so for each ABI.
    implementation(libs.jna) {
        artifact {
            type = "aar"
            extension = "aar"
        }
    }

    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.activity.compose)
    implementation(libs.androidx.fragment.ktx)
    implementation(libs.androidx.lifecycle.runtime.ktx)
    implementation(libs.androidx.lifecycle.runtime.compose)
    implementation(libs.androidx.lifecycle.viewmodel.compose)
    implementation(libs.androidx.navigation.compose)
    implementation(libs.androidx.biometric)
    implementation(libs.androidx.camera.core)
    implementation(libs.androidx.camera.camera2)
    implementation(libs.androidx.camera.lifecycle)
    implementation(libs.androidx.camera.view)
    implementation(libs.androidx.documentfile)

    implementation(platform(libs.compose.bom))
    implementation(libs.compose.ui)
    implementation(libs.compose.foundation)
    implementation(libs.compose.material3)
    implementation(libs.compose.material.icons.core)

    implementation(platform(libs.firebase.bom))
    implementation(libs.firebase.messaging)

    implementation(libs.kotlinx.coroutines.android)
}

val rustLibraries by tasks.registering(Exec::class) {
    description = "Builds libassent_core.so for arm64-v8a, armeabi-v7a and x86_64 with cargo-ndk."
    workingDir = repository
    commandLine("bash", "scripts/build-android.sh", rustJniLibs.path)
    inputs.files(File(repository, "Cargo.toml"), File(repository, "Cargo.lock"), File(repository, "scripts/build-android.sh"))
    inputs.dir(File(repository, "authenticator-core"))
    inputs.dir(File(repository, "authenticator-ffi/src"))
    inputs.dir(File(repository, "protocol/src"))
    outputs.dir(rustJniLibs)
}

val brandIcons by tasks.registering(Exec::class) {
    description = "Writes the issuer icons as VectorDrawables (docs/icons.md)."
    workingDir = repository
    commandLine("python3", "scripts/icons.py", "android", File(brandIconRes, "drawable").path)
    inputs.dir(File(repository, "authenticator-core/icons"))
    inputs.file(File(repository, "scripts/icons.py"))
    outputs.dir(brandIconRes)
}

tasks.named("preBuild") {
    dependsOn(rustLibraries, brandIcons)
}
