// ActivityResult launchers that do not trip the app lock.
package org.assent.app.ui

import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContract
import androidx.compose.runtime.Composable
import androidx.compose.runtime.remember
import org.assent.app.AppLock

/**
 * `rememberLauncherForActivityResult` for the pickers and permission dialogs the app opens
 * itself: while the other screen is in front, the activity's stop is not the user leaving, so
 * the app lock stays open.
 */
@Composable
fun <I, O> rememberLockAwareLauncher(
    contract: ActivityResultContract<I, O>,
    appLock: AppLock,
    onResult: (O) -> Unit,
): (I) -> Unit {
    val launcher = rememberLauncherForActivityResult(contract) { result ->
        appLock.returned()
        onResult(result)
    }
    return remember(launcher) {
        { input: I ->
            appLock.leaving()
            launcher.launch(input)
        }
    }
}
