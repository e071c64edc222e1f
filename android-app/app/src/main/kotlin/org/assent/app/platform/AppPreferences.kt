// The app's small values: the settings, the FCM token sent last, the backup folder.
package org.assent.app.platform

import android.content.Context
import android.content.SharedPreferences
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.callbackFlow
import org.assent.presentation.Preferences

/** `Preferences` over one private SharedPreferences file. */
class AppPreferences(context: Context) : Preferences {
    private val shared: SharedPreferences = context.getSharedPreferences("assent", Context.MODE_PRIVATE)

    override fun string(key: String): String? = shared.getString(key, null)

    override fun set(key: String, value: String?) {
        val editor = shared.edit()
        if (value == null) editor.remove(key) else editor.putString(key, value)
        editor.apply()
    }

    /** Emits once now and after every change, so the activity follows what the settings
     *  screen saves (theme, FLAG_SECURE) without the two screens knowing each other. */
    fun changes(): Flow<Unit> = callbackFlow {
        val listener = SharedPreferences.OnSharedPreferenceChangeListener { _, _ -> trySend(Unit) }
        shared.registerOnSharedPreferenceChangeListener(listener)
        trySend(Unit)
        awaitClose { shared.unregisterOnSharedPreferenceChangeListener(listener) }
    }
}
