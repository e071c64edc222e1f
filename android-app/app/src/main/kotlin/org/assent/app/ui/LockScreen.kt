// What covers the app: the lock while app lock is engaged, and the startup error.
package org.assent.app.ui

import androidx.activity.compose.BackHandler
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.safeDrawingPadding
import androidx.compose.foundation.layout.size
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Lock
import androidx.compose.material.icons.filled.Warning
import androidx.compose.material3.Button
import androidx.compose.material3.Icon
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.style.TextAlign
import androidx.compose.ui.unit.dp
import org.assent.app.R

/** Covers everything until the user is verified; asks once as it appears. Back leaves the
 *  app rather than reaching the screens underneath. */
@Composable
fun LockScreen(onUnlock: () -> Unit, onLeave: () -> Unit) {
    LaunchedEffect(Unit) { onUnlock() }
    BackHandler(onBack = onLeave)
    Surface(Modifier.fillMaxSize()) {
        Column(
            Modifier.safeDrawingPadding().padding(32.dp),
            verticalArrangement = Arrangement.spacedBy(24.dp, Alignment.CenterVertically),
            horizontalAlignment = Alignment.CenterHorizontally,
        ) {
            Icon(Icons.Filled.Lock, contentDescription = null, modifier = Modifier.size(56.dp))
            Text(stringResource(R.string.app_name), style = MaterialTheme.typography.headlineSmall)
            Button(onClick = onUnlock) { Text(stringResource(R.string.unlock)) }
        }
    }
}

/** The vault could not be opened: the core's sentence says why. */
@Composable
fun StartupErrorScreen(message: String) {
    Surface(Modifier.fillMaxSize()) {
        Column(
            Modifier.safeDrawingPadding().padding(32.dp),
            verticalArrangement = Arrangement.spacedBy(16.dp, Alignment.CenterVertically),
            horizontalAlignment = Alignment.CenterHorizontally,
        ) {
            Icon(Icons.Filled.Warning, contentDescription = null, modifier = Modifier.size(56.dp))
            Text(stringResource(R.string.startup_failed), style = MaterialTheme.typography.headlineSmall)
            Text(message, textAlign = TextAlign.Center)
        }
    }
}
