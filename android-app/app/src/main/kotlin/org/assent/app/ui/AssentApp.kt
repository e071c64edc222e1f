// The app's screens: the navigation between them, the approval screen over them for each
// pending request, and the lock over everything.
package org.assent.app.ui

import android.net.Uri
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.key
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.navigation.NavType
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.rememberNavController
import androidx.navigation.navArgument
import org.assent.app.AppEnvironment
import org.assent.app.MainViewModel
import org.assent.app.ui.accounts.AccountListRoute
import org.assent.app.ui.add.AddAccountRoute
import org.assent.app.ui.approval.ApprovalRoute
import org.assent.app.ui.details.AccountDetailsRoute
import org.assent.app.ui.settings.LicencesScreen
import org.assent.app.ui.settings.SettingsRoute

private object Routes {
    const val ACCOUNTS = "accounts"
    const val ADD = "add"
    const val DETAILS = "accounts/{id}"
    const val SETTINGS = "settings"
    const val LICENCES = "licences"

    fun details(id: String) = "accounts/${Uri.encode(id)}"
}

@Composable
fun AssentApp(environment: AppEnvironment, main: MainViewModel, onLeave: () -> Unit) {
    val pending by main.pending.collectAsStateWithLifecycle()
    val locked by main.locked.collectAsStateWithLifecycle()
    Box(Modifier.fillMaxSize()) {
        AssentNavHost(environment)
        pending.firstOrNull()?.let { challenge ->
            key(challenge.id) {
                ApprovalRoute(challenge, environment, onDone = { answered -> main.finished(challenge.id, answered) })
            }
        }
        if (locked) LockScreen(onUnlock = main::unlock, onLeave = onLeave)
    }
}

@Composable
private fun AssentNavHost(environment: AppEnvironment) {
    val navController = rememberNavController()
    val back: () -> Unit = { navController.popBackStack() }
    NavHost(navController, startDestination = Routes.ACCOUNTS) {
        composable(Routes.ACCOUNTS) {
            AccountListRoute(
                environment,
                onAdd = { navController.navigate(Routes.ADD) },
                onOpen = { id -> navController.navigate(Routes.details(id)) },
                onSettings = { navController.navigate(Routes.SETTINGS) },
            )
        }
        composable(Routes.ADD) { AddAccountRoute(environment, onDone = back) }
        composable(Routes.DETAILS, arguments = listOf(navArgument("id") { type = NavType.StringType })) { entry ->
            AccountDetailsRoute(environment, entry.arguments?.getString("id").orEmpty(), onBack = back)
        }
        composable(Routes.SETTINGS) {
            SettingsRoute(environment, onLicences = { navController.navigate(Routes.LICENCES) }, onBack = back)
        }
        composable(Routes.LICENCES) { LicencesScreen(onBack = back) }
    }
}
