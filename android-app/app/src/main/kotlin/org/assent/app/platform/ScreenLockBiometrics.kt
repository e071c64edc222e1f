// "Confirm it's you": a strong biometric or the screen lock.
package org.assent.app.platform

import android.app.Activity
import android.app.KeyguardManager
import android.content.Intent
import android.os.Build
import androidx.activity.result.ActivityResultLauncher
import androidx.activity.result.contract.ActivityResultContracts
import androidx.biometric.BiometricManager
import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_STRONG
import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_WEAK
import androidx.biometric.BiometricManager.Authenticators.DEVICE_CREDENTIAL
import androidx.biometric.BiometricPrompt
import androidx.core.content.ContextCompat
import androidx.fragment.app.FragmentActivity
import java.util.concurrent.atomic.AtomicInteger
import kotlin.coroutines.resume
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlinx.coroutines.withContext
import org.assent.app.AppLock
import org.assent.presentation.Biometrics
import org.assent.presentation.VerificationResult

/**
 * `Biometrics` on the activity on screen: BiometricPrompt with `BIOMETRIC_STRONG or
 * DEVICE_CREDENTIAL` on Android 11+, `BIOMETRIC_WEAK or DEVICE_CREDENTIAL` on 9 and 10 (the
 * strong/credential pair is not supported there), and the device credential screen of
 * KeyguardManager on 8. With no activity on screen (a BroadcastReceiver, the FCM service)
 * nothing can be shown: after waiting a moment for one, the answer is REFUSED.
 */
class ScreenLockBiometrics(
    private val foreground: ForegroundActivity,
    private val appLock: AppLock,
) : Biometrics {
    private val requests = AtomicInteger()

    override suspend fun verify(reason: String): VerificationResult = withContext(Dispatchers.Main.immediate) {
        val activity = foreground.await() ?: return@withContext VerificationResult.REFUSED
        // The credential screen stops the activity: that is not the user leaving the app.
        appLock.leaving()
        try {
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) prompt(activity, reason) else confirmCredential(activity, reason)
        } finally {
            appLock.returned()
        }
    }

    private suspend fun prompt(activity: FragmentActivity, reason: String): VerificationResult {
        val authenticators = if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
            BIOMETRIC_STRONG or DEVICE_CREDENTIAL
        } else {
            BIOMETRIC_WEAK or DEVICE_CREDENTIAL
        }
        if (BiometricManager.from(activity).canAuthenticate(authenticators) != BiometricManager.BIOMETRIC_SUCCESS) {
            return VerificationResult.UNAVAILABLE
        }
        return suspendCancellableCoroutine { continuation ->
            val callback = object : BiometricPrompt.AuthenticationCallback() {
                override fun onAuthenticationSucceeded(result: BiometricPrompt.AuthenticationResult) {
                    if (continuation.isActive) continuation.resume(VerificationResult.VERIFIED)
                }

                override fun onAuthenticationError(errorCode: Int, errString: CharSequence) {
                    val result = if (errorCode in UNAVAILABLE_ERRORS) {
                        VerificationResult.UNAVAILABLE
                    } else {
                        VerificationResult.REFUSED
                    }
                    if (continuation.isActive) continuation.resume(result)
                }
                // onAuthenticationFailed (one finger not recognised) is not the end: the prompt
                // stays for another try.
            }
            val prompt = BiometricPrompt(activity, ContextCompat.getMainExecutor(activity), callback)
            val info = BiometricPrompt.PromptInfo.Builder()
                .setTitle(reason)
                .setAllowedAuthenticators(authenticators)
                .build()
            prompt.authenticate(info)
            continuation.invokeOnCancellation { activity.runOnUiThread { prompt.cancelAuthentication() } }
        }
    }

    private suspend fun confirmCredential(activity: FragmentActivity, reason: String): VerificationResult {
        val keyguard = activity.getSystemService(KeyguardManager::class.java)
        if (keyguard == null || !keyguard.isDeviceSecure) return VerificationResult.UNAVAILABLE
        @Suppress("DEPRECATION") // the only way on Android 8; BiometricPrompt replaces it from 9 on
        val intent = keyguard.createConfirmDeviceCredentialIntent(reason, null) ?: return VerificationResult.UNAVAILABLE
        return suspendCancellableCoroutine { continuation ->
            lateinit var launcher: ActivityResultLauncher<Intent>
            // Registered now rather than in onCreate: the registry allows that when the caller
            // unregisters, which it does once the result is in.
            launcher = activity.activityResultRegistry.register(
                "assent.confirm-credential.${requests.incrementAndGet()}",
                ActivityResultContracts.StartActivityForResult(),
            ) { result ->
                launcher.unregister()
                val verified = result.resultCode == Activity.RESULT_OK
                if (continuation.isActive) {
                    continuation.resume(if (verified) VerificationResult.VERIFIED else VerificationResult.REFUSED)
                }
            }
            launcher.launch(intent)
            continuation.invokeOnCancellation { activity.runOnUiThread { launcher.unregister() } }
        }
    }

    private companion object {
        /** No biometric and no screen lock to check: the caller decides whether that matters. */
        val UNAVAILABLE_ERRORS = setOf(
            BiometricPrompt.ERROR_HW_NOT_PRESENT,
            BiometricPrompt.ERROR_HW_UNAVAILABLE,
            BiometricPrompt.ERROR_NO_BIOMETRICS,
            BiometricPrompt.ERROR_NO_DEVICE_CREDENTIAL,
        )
    }
}
