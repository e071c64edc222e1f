// The presentation module: plain Kotlin (no android.*), so it compiles and is tested on the JVM.
// It compiles the committed uniffi bindings as one of its source folders, so the app and the
// tests use exactly the Kotlin that authenticator-ffi's CI checks.
import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    alias(libs.plugins.kotlin.jvm)
    `java-library`
}

/** The repository: the bindings, the Rust build and the test fixtures are found from here. */
val repository: File = rootDir.parentFile
val rustDebug = File(repository, "target/debug")

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

kotlin {
    compilerOptions { jvmTarget.set(JvmTarget.JVM_17) }
    sourceSets.named("main") {
        kotlin.srcDir(File(repository, "authenticator-ffi/bindings/kotlin"))
    }
}

dependencies {
    // The app brings JNA as its Android AAR (with libjnidispatch.so); the JVM tests bring the jar.
    compileOnly(libs.jna)
    implementation(libs.kotlinx.coroutines.core)

    testImplementation(libs.junit)
    testImplementation(libs.gson)
    testImplementation(libs.kotlin.test)
    testImplementation(libs.jna)
}

/** What the tests run against: the Rust library for the bindings, and the real portal, relay
 *  and mock FCM processes (as scripts/test-android.sh builds them). */
val rustForTests by tasks.registering(Exec::class) {
    description = "Builds libassent_core.so and the portal, push-relay and push-mocks binaries (debug)."
    workingDir = repository
    commandLine(
        "sh", "-c",
        "cargo build -q -p authenticator-ffi --lib && cargo build -q -p portal -p push-relay -p push-mocks --bins",
    )
}

tasks.test {
    dependsOn(rustForTests)
    systemProperty("jna.library.path", rustDebug.path)
    systemProperty("assent.root", repository.path)
    systemProperty("assent.target", rustDebug.path)
}
