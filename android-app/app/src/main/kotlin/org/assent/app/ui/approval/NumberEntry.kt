// The number the sign-in page shows, typed on a number pad.
package org.assent.app.ui.approval

import androidx.compose.foundation.border
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.shape.RoundedCornerShape
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material3.FilledTonalButton
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.semantics.contentDescription
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.unit.dp
import org.assent.app.R

@Composable
fun NumberEntry(number: String, digits: Int, onDigit: (Char) -> Unit, onDelete: () -> Unit) {
    val typed = stringResource(R.string.number_typed, number)
    Column(horizontalAlignment = Alignment.CenterHorizontally, verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Row(Modifier.semantics { contentDescription = typed }, horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            for (index in 0 until digits) {
                Box(
                    Modifier.size(width = 48.dp, height = 60.dp)
                        .border(1.dp, MaterialTheme.colorScheme.outline, RoundedCornerShape(8.dp)),
                    contentAlignment = Alignment.Center,
                ) {
                    Text(number.getOrNull(index)?.toString() ?: "", style = MaterialTheme.typography.headlineMedium)
                }
            }
        }
        for (row in listOf("123", "456", "789")) {
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                for (digit in row) Key(digit, onDigit)
            }
        }
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp), verticalAlignment = Alignment.CenterVertically) {
            Box(Modifier.size(72.dp, 56.dp))
            Key('0', onDigit)
            IconButton(onClick = onDelete, modifier = Modifier.size(72.dp, 56.dp)) {
                Icon(Icons.AutoMirrored.Filled.ArrowBack, contentDescription = stringResource(R.string.delete_digit))
            }
        }
    }
}

@Composable
private fun Key(digit: Char, onDigit: (Char) -> Unit) {
    FilledTonalButton(onClick = { onDigit(digit) }, modifier = Modifier.size(72.dp, 56.dp)) {
        Text(digit.toString(), style = MaterialTheme.typography.titleLarge)
    }
}
