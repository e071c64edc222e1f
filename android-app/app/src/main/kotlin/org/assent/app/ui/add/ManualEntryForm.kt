// The manual entry form: every field with the core's error under it.
package org.assent.app.ui.add

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.selection.selectable
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material3.Button
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.RadioButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.semantics.Role
import androidx.compose.ui.text.input.KeyboardCapitalization
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.unit.dp
import org.assent.app.R
import org.assent.presentation.AccountField
import org.assent.presentation.AddAccountAction
import org.assent.presentation.ManualEntry

@Composable
fun ManualEntryForm(
    entry: ManualEntry,
    fieldErrors: Map<AccountField, String>,
    onAction: (AddAccountAction) -> Unit,
    onSave: () -> Unit,
) {
    val set = { field: AccountField -> { value: String -> onAction(AddAccountAction.Set(field, value)) } }
    Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Text(stringResource(R.string.enter_key_by_hand), style = MaterialTheme.typography.titleMedium)
        Field(entry.issuer, set(AccountField.ISSUER), R.string.field_issuer, fieldErrors[AccountField.ISSUER])
        Field(entry.name, set(AccountField.NAME), R.string.field_name, fieldErrors[AccountField.NAME])
        Field(
            entry.secret, set(AccountField.SECRET), R.string.field_secret, fieldErrors[AccountField.SECRET],
            KeyboardOptions(capitalization = KeyboardCapitalization.Characters, keyboardType = KeyboardType.Ascii),
        )
        Choices(
            title = R.string.field_kind,
            options = listOf("totp" to R.string.kind_totp, "hotp" to R.string.kind_hotp, "steam" to R.string.kind_steam),
            selected = entry.kind,
            onSelect = set(AccountField.KIND),
            error = fieldErrors[AccountField.KIND],
        )
        Choices(
            title = R.string.field_algorithm,
            options = listOf("SHA1" to R.string.algorithm_sha1, "SHA256" to R.string.algorithm_sha256, "SHA512" to R.string.algorithm_sha512),
            selected = entry.algorithm,
            onSelect = set(AccountField.ALGORITHM),
            error = fieldErrors[AccountField.ALGORITHM],
        )
        val number = KeyboardOptions(keyboardType = KeyboardType.Number)
        Field(entry.digits, set(AccountField.DIGITS), R.string.field_digits, fieldErrors[AccountField.DIGITS], number)
        if (entry.kind == "hotp") {
            Field(entry.counter, set(AccountField.COUNTER), R.string.field_counter, fieldErrors[AccountField.COUNTER], number)
        } else {
            Field(entry.period, set(AccountField.PERIOD), R.string.field_period, fieldErrors[AccountField.PERIOD], number)
        }
        Button(onClick = onSave, modifier = Modifier.fillMaxWidth()) { Text(stringResource(R.string.add_account)) }
    }
}

@Composable
private fun Field(
    value: String,
    onChange: (String) -> Unit,
    label: Int,
    error: String?,
    keyboard: KeyboardOptions = KeyboardOptions.Default,
) {
    OutlinedTextField(
        value = value,
        onValueChange = onChange,
        label = { Text(stringResource(label)) },
        isError = error != null,
        supportingText = if (error != null) { { Text(error) } } else null,
        singleLine = true,
        keyboardOptions = keyboard,
        modifier = Modifier.fillMaxWidth(),
    )
}

@Composable
private fun Choices(
    title: Int,
    options: List<Pair<String, Int>>,
    selected: String,
    onSelect: (String) -> Unit,
    error: String?,
) {
    Column {
        Text(stringResource(title), style = MaterialTheme.typography.labelLarge)
        for ((value, label) in options) {
            Row(
                Modifier.fillMaxWidth().selectable(selected = value == selected, role = Role.RadioButton) { onSelect(value) },
                verticalAlignment = Alignment.CenterVertically,
            ) {
                RadioButton(selected = value == selected, onClick = null)
                Text(stringResource(label))
            }
        }
        if (error != null) {
            Text(error, color = MaterialTheme.colorScheme.error, style = MaterialTheme.typography.bodySmall)
        }
    }
}
