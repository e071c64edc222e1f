// The activity on screen, for the platform prompts that need one.
package org.assent.app.platform

import android.app.Activity
import android.app.Application
import android.os.Bundle
import androidx.fragment.app.FragmentActivity
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.filterNotNull
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withTimeoutOrNull

/**
 * Follows which activity is started (registered by the Application), so BiometricPrompt and
 * the permission dialog can be shown from a ViewModel's coroutine. ViewModels hold the prompts,
 * never an activity, so nothing outlives a recreated activity.
 */
class ForegroundActivity : Application.ActivityLifecycleCallbacks {
    private val started = MutableStateFlow<FragmentActivity?>(null)

    /** The started activity; waits a moment for one, since a notification's intent reaches
     *  the activity in onCreate, before it is started. Null when none comes (a receiver). */
    suspend fun await(): FragmentActivity? =
        started.value ?: withTimeoutOrNull(WAIT_MILLIS) { started.filterNotNull().first() }

    override fun onActivityStarted(activity: Activity) {
        if (activity is FragmentActivity) started.value = activity
    }

    override fun onActivityStopped(activity: Activity) {
        if (started.value === activity) started.value = null
    }

    override fun onActivityDestroyed(activity: Activity) {
        if (started.value === activity) started.value = null
    }

    override fun onActivityCreated(activity: Activity, savedInstanceState: Bundle?) = Unit

    override fun onActivityResumed(activity: Activity) = Unit

    override fun onActivityPaused(activity: Activity) = Unit

    override fun onActivitySaveInstanceState(activity: Activity, outState: Bundle) = Unit

    private companion object {
        const val WAIT_MILLIS = 3_000L
    }
}
