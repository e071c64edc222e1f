// The icon beside an account: the brand's glyph, or a letter avatar (the core chooses).
package org.assent.app.ui.accounts

import android.annotation.SuppressLint
import android.content.Context
import androidx.compose.foundation.background
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.shape.CircleShape
import androidx.compose.foundation.shape.RoundedCornerShape
import androidx.compose.material3.Icon
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.remember
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.draw.clip
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.painterResource
import androidx.compose.ui.semantics.clearAndSetSemantics
import androidx.compose.ui.unit.dp
import java.util.concurrent.ConcurrentHashMap
import org.assent.core.AccountIcon

/** `AccountIcon.Brand`: the generated VectorDrawable named `asset` (scripts/icons.py), tinted
 *  with the brand colour. `AccountIcon.Letter`: the letter in white on its colour. */
@Composable
fun IssuerIcon(icon: AccountIcon, modifier: Modifier = Modifier) {
    when (icon) {
        is AccountIcon.Brand -> BrandIcon(icon, modifier)
        is AccountIcon.Letter -> LetterAvatar(icon.letter, coreColor(icon.color), modifier)
    }
}

@Composable
private fun BrandIcon(brand: AccountIcon.Brand, modifier: Modifier) {
    val context = LocalContext.current
    val id = remember(brand.asset) { BrandDrawables.id(context, brand.asset) }
    if (id == 0) {
        // A build without the generated icons: the brand's initial on its colour.
        LetterAvatar(brand.title.take(1), coreColor(brand.color), modifier)
        return
    }
    Box(
        modifier.size(40.dp).clip(RoundedCornerShape(10.dp)).background(MaterialTheme.colorScheme.surfaceVariant),
        contentAlignment = Alignment.Center,
    ) {
        Icon(
            painterResource(id),
            contentDescription = brand.title,
            tint = coreColor(brand.color),
            modifier = Modifier.size(24.dp),
        )
    }
}

@Composable
private fun LetterAvatar(letter: String, color: Color, modifier: Modifier) {
    Box(
        modifier.size(40.dp).clip(CircleShape).background(color).clearAndSetSemantics {},
        contentAlignment = Alignment.Center,
    ) {
        Text(letter, color = Color.White, style = MaterialTheme.typography.titleMedium)
    }
}

/** The core's `#RRGGBB`; grey for anything else. */
private fun coreColor(hex: String): Color =
    runCatching { Color(android.graphics.Color.parseColor(hex)) }.getOrDefault(Color.Gray)

/** Drawable ids by asset name: the names come from the core at run time, and getIdentifier
 *  is slow, so each is looked up once. */
private object BrandDrawables {
    private val ids = ConcurrentHashMap<String, Int>()

    @SuppressLint("DiscouragedApi")
    fun id(context: Context, asset: String): Int =
        ids.getOrPut(asset) { context.resources.getIdentifier(asset, "drawable", context.packageName) }
}
