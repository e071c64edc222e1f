// The folder automatic backups are copied to, chosen through the Storage Access Framework.
package org.assent.app.platform

import android.content.Context
import android.content.Intent
import android.net.Uri
import androidx.documentfile.provider.DocumentFile
import java.io.IOException
import org.assent.presentation.BackupDestination
import org.assent.presentation.Preferences

/**
 * A `BackupDestination` over a document tree (`ACTION_OPEN_DOCUMENT_TREE`): a local folder, an
 * SD card, or a cloud provider's folder. The core writes versions into the app's staging folder
 * and `BackupMirror` copies them here. Blocking: call off the main thread.
 */
class DocumentFolder(private val context: Context, val uri: Uri) : BackupDestination {
    private val folder: DocumentFile
        get() = DocumentFile.fromTreeUri(context, uri)?.takeIf { it.exists() } ?: throw IOException("the folder is gone")

    override val displayName: String
        get() = runCatching { folder.name }.getOrNull() ?: uri.lastPathSegment ?: uri.toString()

    override fun list(): List<String> = folder.listFiles().mapNotNull { it.name }

    override fun write(fileName: String, data: ByteArray) {
        val parent = folder
        val existing = parent.findFile(fileName)
        // octet-stream, so that no provider appends an extension to the core's file name.
        val file = existing ?: parent.createFile("application/octet-stream", fileName)
            ?: throw IOException("cannot create $fileName")
        // A copy interrupted before is replaced ("wt" truncates); a new file takes plain "w".
        val mode = if (existing != null) "wt" else "w"
        val stream = context.contentResolver.openOutputStream(file.uri, mode) ?: throw IOException("cannot open $fileName")
        stream.use { it.write(data) }
    }

    override fun delete(fileName: String) {
        folder.findFile(fileName)?.delete()
    }
}

/** The chosen folder, kept across restarts: its persisted URI permission and its URI. */
class BackupFolders(private val context: Context, private val preferences: Preferences) {
    /** The folder chosen before, if its permission is still held. */
    fun current(): DocumentFolder? {
        val uri = preferences.string(KEY)?.let(Uri::parse) ?: return null
        val held = context.contentResolver.persistedUriPermissions.any { it.uri == uri && it.isWritePermission }
        return if (held) DocumentFolder(context, uri) else null
    }

    /** Takes the persistable permission the tree picker granted, and remembers the folder. */
    fun keep(uri: Uri): DocumentFolder {
        context.contentResolver.takePersistableUriPermission(uri, FLAGS)
        preferences.set(KEY, uri.toString())
        return DocumentFolder(context, uri)
    }

    /** Automatic backups were turned off: the folder's permission is given back. */
    fun forget() {
        val uri = preferences.string(KEY)?.let(Uri::parse)
        preferences.set(KEY, null)
        if (uri != null) runCatching { context.contentResolver.releasePersistableUriPermission(uri, FLAGS) }
    }

    private companion object {
        const val KEY = "backup.folder-uri"
        const val FLAGS = Intent.FLAG_GRANT_READ_URI_PERMISSION or Intent.FLAG_GRANT_WRITE_URI_PERMISSION
    }
}
