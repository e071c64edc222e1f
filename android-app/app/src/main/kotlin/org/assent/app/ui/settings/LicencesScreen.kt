// The open-source licences of what the app is made of.
package org.assent.app.ui.settings

import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.ListItem
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import org.assent.app.R
import org.assent.app.ui.BackTopBar

/** A component and the licence it is used under. */
private data class Licence(val component: String, val licence: String, val note: String? = null)

private val licences = listOf(
    Licence("Assent", "Apache License 2.0", "https://github.com/assent-auth/assent"),
    Licence(
        "Simple Icons 16.37.0 (issuer icons)", "CC0 1.0 Universal",
        "The logos remain their owners' trademarks; Assent shows them only to say which service an account belongs to.",
    ),
    Licence("Rust core: uniffi", "Mozilla Public License 2.0"),
    Licence("Rust core: ring", "ISC and Apache License 2.0"),
    Licence(
        "Rust core: RustCrypto (argon2, scrypt, p256, sha2), hpke, image, serde, base32, base64, zeroize",
        "MIT or Apache License 2.0",
    ),
    Licence("Rust core: rqrr (QR reader)", "MIT or Apache License 2.0, and ISC"),
    Licence("Rust core: totp-rs", "MIT License"),
    Licence("Rust core: prost", "Apache License 2.0"),
    Licence("Java Native Access (JNA)", "Apache License 2.0 or LGPL 2.1"),
    Licence("Kotlin and kotlinx.coroutines", "Apache License 2.0"),
    Licence("AndroidX and Jetpack Compose (Material 3, Navigation, Lifecycle, CameraX, Biometric)", "Apache License 2.0"),
    Licence("Firebase Cloud Messaging", "Apache License 2.0"),
)

@Composable
fun LicencesScreen(onBack: () -> Unit) {
    Scaffold(topBar = { BackTopBar(stringResource(R.string.licences), onBack) }) { padding ->
        LazyColumn(Modifier.padding(padding).fillMaxSize(), contentPadding = PaddingValues(vertical = 8.dp)) {
            items(licences) { licence ->
                ListItem(
                    headlineContent = { Text(licence.component) },
                    supportingContent = {
                        Text(listOfNotNull(licence.licence, licence.note).joinToString("\n"))
                    },
                )
            }
            item {
                Text(
                    stringResource(R.string.licences_full_text),
                    style = MaterialTheme.typography.bodySmall,
                    modifier = Modifier.padding(16.dp),
                )
            }
        }
    }
}
