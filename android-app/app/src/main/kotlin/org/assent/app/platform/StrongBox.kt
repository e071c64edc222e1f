// Keystore keys in StrongBox, the phone's separate secure chip (Android 9+), when it has one;
// in the TEE otherwise.
package org.assent.app.platform

import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.StrongBoxUnavailableException
import androidx.annotation.RequiresApi

internal const val ANDROID_KEY_STORE = "AndroidKeyStore"

internal object StrongBox {
    /** Runs `generate` asking for StrongBox first. A phone without one says so when the key is
     *  generated (StrongBoxUnavailableException), and the key is made in the TEE instead. */
    fun <T> preferred(generate: (strongBox: Boolean) -> T): T =
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) strongBoxOrTee(generate) else generate(false)

    @RequiresApi(Build.VERSION_CODES.P)
    private fun <T> strongBoxOrTee(generate: (strongBox: Boolean) -> T): T = try {
        generate(true)
    } catch (e: StrongBoxUnavailableException) {
        generate(false)
    }
}

/** Asks for StrongBox when `strongBox` (only ever true on Android 9+, see [StrongBox]). */
internal fun KeyGenParameterSpec.Builder.inStrongBox(strongBox: Boolean): KeyGenParameterSpec.Builder =
    if (strongBox && Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) setIsStrongBoxBacked(true) else this
