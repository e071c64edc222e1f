// Files the user picked through the system's pickers (Photo Picker, OpenDocument, CreateDocument).
package org.assent.app.platform

import android.content.Context
import android.net.Uri
import java.io.IOException

/** Reads and writes the content URIs the pickers hand back. Blocking: call on Dispatchers.IO. */
class Documents(private val context: Context) {
    fun read(uri: Uri): ByteArray =
        context.contentResolver.openInputStream(uri)?.use { it.readBytes() } ?: throw IOException("cannot open $uri")

    /** `uri` is a new, empty document from CreateDocument ("w" is the one mode every
     *  provider supports; "wt" is not). */
    fun write(uri: Uri, data: ByteArray) {
        val stream = context.contentResolver.openOutputStream(uri, "w") ?: throw IOException("cannot open $uri")
        stream.use { it.write(data) }
    }
}
