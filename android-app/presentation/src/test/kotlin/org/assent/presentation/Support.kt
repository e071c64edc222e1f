// Plain-Kotlin stand-ins for the platform, and the paths of the Rust build, for the JVM tests.
package org.assent.presentation

import java.io.File
import java.nio.file.Files
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec
import kotlin.test.assertTrue
import org.assent.core.Clock
import org.assent.core.DeviceKeystore
import org.assent.core.KeystoreException
import org.assent.core.Store
import org.assent.core.VaultKeyProvider

object Paths {
    /** The repository (set by scripts/test-android.sh). */
    val root: File = File(System.getProperty("assent.root") ?: ".")

    /** The cargo output folder with portal, push-relay and push-mocks. */
    val target: File = File(System.getProperty("assent.target") ?: "target/debug")

    fun tempDirectory(): File = Files.createTempDirectory("assent-presentation").toFile()

    fun tempVault(): String = File(tempDirectory(), "vault.json").path
}

const val RFC_SHA1 = "otpauth://totp/RFC:test?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=RFC&digits=8"

class FixedClock(@Volatile var now: ULong) : Clock {
    override fun nowUnixSeconds(): ULong = now
}

class ZeroKey : VaultKeyProvider {
    override fun vaultKey(): ByteArray = ByteArray(32)
}

fun store(clock: Clock? = null, keystore: DeviceKeystore? = null, path: String = Paths.tempVault()): Store =
    Store.open(path, ZeroKey(), keystore, clock)

class MemoryPreferences : Preferences {
    val values = mutableMapOf<String, String>()

    override fun string(key: String): String? = values[key]

    override fun set(key: String, value: String?) {
        if (value == null) values.remove(key) else values[key] = value
    }
}

class FakeClipboard : Clipboard {
    data class Clip(val label: String, val text: String)

    var current: Clip? = null
    val copies = mutableListOf<Clip>()

    override fun copySensitive(label: String, text: String) {
        current = Clip(label, text).also(copies::add)
    }

    override fun clearIfStill(text: String) {
        if (current?.text == text) current = null
    }
}

/** A scheduler whose time moves only when the test says. */
class ManualScheduler : Scheduler {
    private class Task(val at: Long, val action: () -> Unit, var cancelled: Boolean = false)

    var now = 0L
        private set
    private val tasks = mutableListOf<Task>()

    override fun after(delayMillis: Long, action: () -> Unit): Cancellable {
        val task = Task(now + delayMillis, action)
        tasks.add(task)
        return Cancellable { task.cancelled = true }
    }

    fun advance(millis: Long) {
        now += millis
        val due = tasks.filter { it.at <= now }
        tasks.removeAll(due)
        due.filterNot { it.cancelled }.forEach { it.action() }
    }
}

class FakeBiometrics(private val result: VerificationResult) : Biometrics {
    var asked = 0

    override suspend fun verify(reason: String): VerificationResult {
        asked++
        return result
    }
}

class FakePermission : NotificationPermission {
    var requests = 0

    override suspend fun request(): Boolean {
        requests++
        return true
    }
}

/**
 * The device keystore the way AndroidKeyStore is used (JCA: an EC P-256 key pair, SHA256withECDSA
 * signatures in DER), with the JVM's own provider: the keys stay in this object.
 */
class JvmKeystore : DeviceKeystore {
    private val keys = mutableMapOf<String, KeyPair>()

    @Synchronized
    override fun createKey(alias: String): ByteArray {
        val generator = KeyPairGenerator.getInstance("EC")
        generator.initialize(ECGenParameterSpec("secp256r1"))
        val pair = generator.generateKeyPair()
        keys[alias] = pair
        return sec1Uncompressed(pair.public as ECPublicKey)
    }

    @Synchronized
    override fun sign(alias: String, message: ByteArray): ByteArray {
        val pair = keys[alias] ?: throw KeystoreException.Unavailable("No key $alias.")
        return Signature.getInstance("SHA256withECDSA").run {
            initSign(pair.private)
            update(message)
            sign()
        }
    }
}

/** Counts what goes through a transport (to prove that nothing was sent). */
class CountingTransport(private val inner: PortalTransport) : PortalTransport {
    val urls = java.util.Collections.synchronizedList(mutableListOf<String>())

    override suspend fun send(request: org.assent.core.PortalRequest): String {
        urls.add(request.url)
        return inner.send(request)
    }
}

/** A message for the user: a sentence, no debug output. */
fun assertReadable(message: String?) {
    assertTrue(message != null && message.isNotEmpty(), "no message")
    assertTrue(message.first().isUpperCase() && message.last() in ".!?", "not a sentence: $message")
    for (leak in listOf("Exception", "message=", "reason=", "{", "Error(")) {
        assertTrue(leak !in message, "debug output in: $message")
    }
}

/** The number to type must not be shown: no run of digits in `texts` equals it. */
fun assertNumberNotShown(number: String, texts: List<String>) {
    for (text in texts) {
        val runs = Regex("[0-9]+").findAll(text).map { it.value }.toList()
        assertTrue(number !in runs, "the number $number is shown in: $text")
    }
}
