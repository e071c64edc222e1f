// The Keystore key that wraps the vault key.
package org.assent.app.platform

import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import java.security.KeyStore
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import org.assent.presentation.KeyWrapper

/**
 * An AES-256-GCM key in AndroidKeyStore (StrongBox when the phone has one), created on first
 * use, that never leaves it: wraps and unwraps the vault key for `WrappedVaultKey`. A wrapped
 * key is the 12-byte IV the Keystore chose, then the ciphertext with its 16-byte tag.
 */
object AndroidKeyWrapper : KeyWrapper {
    private const val ALIAS = "assent.vault-key-wrapper"
    private const val TRANSFORMATION = "AES/GCM/NoPadding"
    private const val IV_BYTES = 12
    private const val TAG_BITS = 128

    override fun wrap(plain: ByteArray): ByteArray {
        val cipher = Cipher.getInstance(TRANSFORMATION)
        // No IV given: the Keystore requires randomized encryption and picks it.
        cipher.init(Cipher.ENCRYPT_MODE, key())
        return cipher.iv + cipher.doFinal(plain)
    }

    override fun unwrap(wrapped: ByteArray): ByteArray {
        // A missing key is not created here: a new key could not open the old file anyway.
        val key = existing() ?: throw java.security.KeyStoreException("the wrapping key is gone")
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(TAG_BITS, wrapped, 0, IV_BYTES))
        return cipher.doFinal(wrapped, IV_BYTES, wrapped.size - IV_BYTES)
    }

    @Synchronized
    private fun key(): SecretKey = existing() ?: StrongBox.preferred(::generate)

    private fun existing(): SecretKey? {
        val store = KeyStore.getInstance(ANDROID_KEY_STORE).apply { load(null) }
        return store.getKey(ALIAS, null) as? SecretKey
    }

    private fun generate(strongBox: Boolean): SecretKey {
        val spec = KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setKeySize(256)
            .inStrongBox(strongBox)
            .build()
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEY_STORE)
        generator.init(spec)
        return generator.generateKey()
    }
}
