// The one activity: Compose content, FLAG_SECURE, the lifecycle hooks, notification intents.
package org.assent.app

import android.content.Intent
import android.graphics.Color
import android.os.Bundle
import android.view.WindowManager
import androidx.activity.SystemBarStyle
import androidx.activity.compose.setContent
import androidx.activity.enableEdgeToEdge
import androidx.activity.viewModels
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.getValue
import androidx.fragment.app.FragmentActivity
import androidx.lifecycle.DefaultLifecycleObserver
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.LifecycleOwner
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.lifecycleScope
import androidx.lifecycle.repeatOnLifecycle
import androidx.lifecycle.viewmodel.initializer
import androidx.lifecycle.viewmodel.viewModelFactory
import kotlinx.coroutines.launch
import org.assent.app.push.SignInIntent
import org.assent.app.ui.AssentApp
import org.assent.app.ui.AssentTheme
import org.assent.app.ui.StartupErrorScreen
import org.assent.app.ui.isDark
import org.assent.presentation.Theme
import org.assent.presentation.userMessage

/** A FragmentActivity because BiometricPrompt needs one; Compose draws everything in it. */
class MainActivity : FragmentActivity() {
    private lateinit var environment: AppEnvironment

    private val viewModel: MainViewModel by viewModels {
        viewModelFactory {
            initializer { MainViewModel(environment, (application as AssentApplication).scope) }
        }
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        // Secure from the first frame (the setting's default), before the vault is even open.
        window.setFlags(WindowManager.LayoutParams.FLAG_SECURE, WindowManager.LayoutParams.FLAG_SECURE)
        enableEdgeToEdge()
        environment = (application as AssentApplication).environment.getOrElse { error ->
            setContent { AssentTheme(Theme.SYSTEM.isDark(), dynamicColor = true) { StartupErrorScreen(userMessage(error)) } }
            return
        }
        applySecureScreen(environment.settings.secureScreen)
        lifecycleScope.launch {
            repeatOnLifecycle(Lifecycle.State.CREATED) {
                viewModel.settings.collect { applySecureScreen(it.secureScreen) }
            }
        }
        lifecycle.addObserver(object : DefaultLifecycleObserver {
            override fun onStart(owner: LifecycleOwner) = viewModel.onStart()

            override fun onStop(owner: LifecycleOwner) = viewModel.onStop(isChangingConfigurations)
        })
        if (savedInstanceState == null) handle(intent)

        setContent {
            val settings by viewModel.settings.collectAsStateWithLifecycle()
            val dark = settings.theme.isDark()
            // The system bars follow the app's theme, which may differ from the system's.
            DisposableEffect(dark) {
                enableEdgeToEdge(
                    statusBarStyle = SystemBarStyle.auto(Color.TRANSPARENT, Color.TRANSPARENT) { dark },
                    navigationBarStyle = SystemBarStyle.auto(LIGHT_SCRIM, DARK_SCRIM) { dark },
                )
                onDispose {}
            }
            AssentTheme(dark, settings.dynamicColor) {
                AssentApp(environment, viewModel, onLeave = { moveTaskToBack(true) })
            }
        }
    }

    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        if (::environment.isInitialized) handle(intent)
    }

    private fun handle(intent: Intent?) {
        val signIn = intent?.let(SignInIntent::from) ?: return
        viewModel.onSignInIntent(signIn)
    }

    /** FLAG_SECURE keeps codes out of screenshots, recordings and the app switcher's preview. */
    private fun applySecureScreen(on: Boolean) {
        if (on) {
            window.setFlags(WindowManager.LayoutParams.FLAG_SECURE, WindowManager.LayoutParams.FLAG_SECURE)
        } else {
            window.clearFlags(WindowManager.LayoutParams.FLAG_SECURE)
        }
    }

    private companion object {
        // The scrims enableEdgeToEdge uses by default for three-button navigation.
        val LIGHT_SCRIM = Color.argb(0xe6, 0xFF, 0xFF, 0xFF)
        val DARK_SCRIM = Color.argb(0x80, 0x1b, 0x1b, 0x1b)
    }
}
