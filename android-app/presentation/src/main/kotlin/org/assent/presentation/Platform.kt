// What the presentation module needs from Android, as interfaces: the app implements them with
// ClipboardManager, BiometricPrompt, AndroidKeyStore, NotificationManager and SharedPreferences;
// the JVM tests with plain Kotlin.
package org.assent.presentation

import java.io.File
import java.io.IOException
import java.security.SecureRandom
import org.assent.core.KeystoreException
import org.assent.core.VaultKeyProvider

/** The system clipboard. */
interface Clipboard {
    /** Puts `text` on the clipboard marked sensitive (`ClipDescription.EXTRA_IS_SENSITIVE`), so
     *  the system's copy preview and keyboards' clipboard suggestions hide it. */
    fun copySensitive(label: String, text: String)

    /** Clears the clipboard if it still holds `text` (the user may have copied something else
     *  since, which stays). */
    fun clearIfStill(text: String)
}

/** A cancellable pending action. */
fun interface Cancellable {
    fun cancel()
}

/** Runs an action later: a Handler or a coroutine in the app, a manual clock in the tests. */
fun interface Scheduler {
    fun after(delayMillis: Long, action: () -> Unit): Cancellable
}

/** What BiometricPrompt said. */
enum class VerificationResult {
    /** A strong biometric or the device credential was confirmed. */
    VERIFIED,

    /** The user cancelled or failed. */
    REFUSED,

    /** No biometric and no screen lock is set up. */
    UNAVAILABLE,
}

/** BiometricPrompt with `BIOMETRIC_STRONG or DEVICE_CREDENTIAL`. */
fun interface Biometrics {
    suspend fun verify(reason: String): VerificationResult
}

/** Small app values (SharedPreferences). */
interface Preferences {
    fun string(key: String): String?

    fun set(key: String, value: String?)
}

/** The notification permission (Android 13+ `POST_NOTIFICATIONS`; always granted before). */
fun interface NotificationPermission {
    /** Asks, when the user sees why (after the first enrollment); true when granted. */
    suspend fun request(): Boolean
}

/** An AES-256-GCM key in AndroidKeyStore (StrongBox when the phone has one) that never leaves
 *  it: wraps and unwraps the vault key. */
interface KeyWrapper {
    fun wrap(plain: ByteArray): ByteArray

    fun unwrap(wrapped: ByteArray): ByteArray
}

/**
 * The vault key: 32 random bytes, created on first use, stored in `file` only as wrapped by
 * the Keystore key, so the file alone opens nothing (and is left out of backups by the app's
 * backup rules).
 */
class WrappedVaultKey(
    private val file: File,
    private val wrapper: KeyWrapper,
    private val random: SecureRandom = SecureRandom(),
) : VaultKeyProvider {
    @Synchronized
    override fun vaultKey(): ByteArray {
        try {
            if (file.exists()) return wrapper.unwrap(file.readBytes())
            val key = ByteArray(32).also(random::nextBytes)
            val temp = File(file.parentFile, file.name + ".tmp")
            temp.writeBytes(wrapper.wrap(key))
            if (!temp.renameTo(file)) throw IOException("rename failed")
            return key
        } catch (e: KeystoreException) {
            throw e
        } catch (e: Exception) {
            throw KeystoreException.Unavailable(
                "The key that protects your accounts could not be read from the Android Keystore.",
            )
        }
    }
}

/** The system clock (the approval countdown). */
object SystemClock : org.assent.core.Clock {
    override fun nowUnixSeconds(): ULong = (System.currentTimeMillis() / 1000).toULong()
}

/** An EC P-256 public key as the core takes it from `DeviceKeystore.createKey`: SEC1
 *  uncompressed, `04 || x || y`. AndroidKeyStore's keys are `java.security.interfaces.ECPublicKey`. */
fun sec1Uncompressed(key: java.security.interfaces.ECPublicKey): ByteArray {
    fun coordinate(value: java.math.BigInteger): ByteArray {
        val bytes = value.toByteArray().dropWhile { it == 0.toByte() }.toByteArray()
        require(bytes.size <= 32) { "not a P-256 key" }
        return ByteArray(32 - bytes.size) + bytes
    }
    return byteArrayOf(4) + coordinate(key.w.affineX) + coordinate(key.w.affineY)
}
