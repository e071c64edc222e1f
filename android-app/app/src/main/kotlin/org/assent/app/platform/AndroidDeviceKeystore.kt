// The device's push signing keys, for the core's enrollments and answers.
package org.assent.app.platform

import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.PrivateKey
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec
import org.assent.core.DeviceKeystore
import org.assent.core.KeystoreException
import org.assent.presentation.sec1Uncompressed

/**
 * `DeviceKeystore` over AndroidKeyStore: one EC P-256 signing key per enrollment (StrongBox when
 * the phone has one), whose private half never leaves the Keystore. Public keys go to the core
 * as SEC1 points, signatures as the DER that `SHA256withECDSA` produces.
 */
class AndroidDeviceKeystore : DeviceKeystore {
    override fun createKey(alias: String): ByteArray =
        withKeystore("This phone could not create its sign-in key in the Android Keystore.") {
            val pair = StrongBox.preferred { strongBox -> generate(alias, strongBox) }
            sec1Uncompressed(pair.public as ECPublicKey)
        }

    override fun sign(alias: String, message: ByteArray): ByteArray =
        withKeystore("This phone could not sign with its key in the Android Keystore.") {
            val store = KeyStore.getInstance(ANDROID_KEY_STORE).apply { load(null) }
            val key = store.getKey(alias, null) as? PrivateKey
                ?: throw KeystoreException.Unavailable("This phone's sign-in key is gone. Enroll this phone again.")
            val signature = Signature.getInstance("SHA256withECDSA")
            signature.initSign(key)
            signature.update(message)
            signature.sign()
        }

    private fun generate(alias: String, strongBox: Boolean): KeyPair {
        val spec = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_SIGN)
            .setAlgorithmParameterSpec(ECGenParameterSpec("secp256r1"))
            .setDigests(KeyProperties.DIGEST_SHA256)
            .inStrongBox(strongBox)
            .build()
        val generator = KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, ANDROID_KEY_STORE)
        generator.initialize(spec)
        return generator.generateKeyPair()
    }

    /** The core shows `reason` to the user, so a Keystore failure becomes a sentence, not the
     *  provider's internals. */
    private inline fun <T> withKeystore(failure: String, body: () -> T): T = try {
        body()
    } catch (e: KeystoreException) {
        throw e
    } catch (e: Exception) {
        throw KeystoreException.Unavailable(failure)
    }
}
