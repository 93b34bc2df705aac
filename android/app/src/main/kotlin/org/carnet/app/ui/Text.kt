// UiText (a key and arguments from the shared logic) to a localised string.
// Keys are looked up by name: error_<code> follows the core's stable codes,
// so a new code needs only new strings (scripts/shells-check.sh checks them).
package org.carnet.app.ui

import androidx.compose.runtime.Composable
import androidx.compose.ui.platform.LocalContext
import org.carnet.shell.UiText

@Composable
fun text(message: UiText): String {
    val context = LocalContext.current
    @Suppress("DiscouragedApi")
    val id = context.resources.getIdentifier(message.key, "string", context.packageName)
    if (id == 0) return context.getString(org.carnet.app.R.string.error_unexpected)
    return if (message.args.isEmpty()) context.getString(id) else context.getString(id, *message.args.toTypedArray())
}
