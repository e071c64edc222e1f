// The system clipboard, for copied codes.
package org.assent.app.platform

import android.content.ClipData
import android.content.ClipDescription
import android.content.ClipboardManager
import android.content.Context
import android.os.Build
import android.os.PersistableBundle
import org.assent.presentation.Clipboard

/** `Clipboard` over ClipboardManager: codes go on it marked sensitive, so the system's copy
 *  preview and keyboards' clipboard suggestions hide them. */
class SystemClipboard(context: Context) : Clipboard {
    private val manager = context.getSystemService(ClipboardManager::class.java)

    override fun copySensitive(label: String, text: String) {
        val clip = ClipData.newPlainText(label, text)
        clip.description.extras = PersistableBundle().apply { putBoolean(SENSITIVE, true) }
        manager.setPrimaryClip(clip)
    }

    override fun clearIfStill(text: String) {
        // Android 10+ hides the clipboard from an app without focus (primaryClip is null): 30 s
        // after a copy the user has usually switched to the app they paste into, and the code is
        // by far the likelier content, so it is cleared then too. Only a clip that can be read
        // and holds something else is known to be the user's, and stays.
        val current = manager.primaryClip
        if (current != null && current.itemCount > 0 && current.getItemAt(0).text?.toString() != text) return
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
            manager.clearPrimaryClip()
        } else {
            manager.setPrimaryClip(ClipData.newPlainText("", ""))
        }
    }

    private companion object {
        /** The extra's name before Android 13 made it a constant; the system honours it since 12. */
        val SENSITIVE: String = if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
            ClipDescription.EXTRA_IS_SENSITIVE
        } else {
            "android.content.extra.IS_SENSITIVE"
        }
    }
}
