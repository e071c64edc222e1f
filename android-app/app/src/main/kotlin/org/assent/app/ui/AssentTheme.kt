// Material 3 colours: the wallpaper's (Android 12+) when dynamic colour is on, else Assent's.
package org.assent.app.ui

import android.os.Build
import androidx.compose.foundation.isSystemInDarkTheme
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.darkColorScheme
import androidx.compose.material3.dynamicDarkColorScheme
import androidx.compose.material3.dynamicLightColorScheme
import androidx.compose.material3.lightColorScheme
import androidx.compose.runtime.Composable
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.platform.LocalContext
import org.assent.presentation.Theme

private val LightColors = lightColorScheme(
    primary = Color(0xFF2E4FA3),
    onPrimary = Color.White,
    primaryContainer = Color(0xFFDCE1FF),
    onPrimaryContainer = Color(0xFF00164F),
)

private val DarkColors = darkColorScheme(
    primary = Color(0xFFB5C4FF),
    onPrimary = Color(0xFF00287D),
    primaryContainer = Color(0xFF113A8B),
    onPrimaryContainer = Color(0xFFDCE1FF),
)

/** Whether the user's theme choice is dark now ("system" follows the phone). */
@Composable
fun Theme.isDark(): Boolean = when (this) {
    Theme.SYSTEM -> isSystemInDarkTheme()
    Theme.LIGHT -> false
    Theme.DARK -> true
}

@Composable
fun AssentTheme(dark: Boolean, dynamicColor: Boolean, content: @Composable () -> Unit) {
    val colors = when {
        dynamicColor && Build.VERSION.SDK_INT >= Build.VERSION_CODES.S -> {
            val context = LocalContext.current
            if (dark) dynamicDarkColorScheme(context) else dynamicLightColorScheme(context)
        }
        dark -> DarkColors
        else -> LightColors
    }
    MaterialTheme(colorScheme = colors, content = content)
}
