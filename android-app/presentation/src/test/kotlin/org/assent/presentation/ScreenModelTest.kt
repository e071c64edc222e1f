// The screen models (state + actions + one model per screen) against the real Rust library,
// with plain-Kotlin stand-ins for the platform.
package org.assent.presentation

import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNotEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.assent.core.AccountIcon
import org.junit.Test

class AccountListTest {
    private val clipboard = FakeClipboard()
    private val scheduler = ManualScheduler()

    private fun list(store: org.assent.core.Store) = AccountListModel(store, ClipboardGuard(clipboard, scheduler))

    @Test
    fun codesAndCountdownsAtFixedTimes() {
        val clock = FixedClock(59u)
        val store = store(clock)
        store.addUri(RFC_SHA1)
        store.addUri("otpauth://totp/GitHub:octo?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=GitHub")
        val list = list(store)
        list.onAction(AccountListAction.Refresh)
        val rows = list.state.value.rows
        assertNull(list.state.value.error)
        assertEquals(listOf("RFC", "GitHub"), rows.map { it.issuer })
        assertEquals("94287082", rows[0].code) // RFC 6238, T = 59
        assertEquals("9428 7082", rows[0].displayCode)
        assertEquals(1, rows[0].secondsLeft)
        assertEquals(1f / 30f, rows[0].progress, 1e-6f)
        assertFalse(rows[0].approvesSignIns)
        assertEquals("brand:github", rows[1].iconKey)
        assertIs<AccountIcon.Brand>(rows[1].icon)
        assertEquals(7, rows[1].displayCode.length)

        clock.now = 1_111_111_109u
        list.onAction(AccountListAction.Refresh)
        assertEquals("07081804", list.state.value.rows[0].code)
        clock.now = 1_111_111_110u
        list.onAction(AccountListAction.Refresh)
        assertEquals(30, list.state.value.rows[0].secondsLeft)
        assertEquals(1f, list.state.value.rows[0].progress)
        assertEquals("brand:github", list.state.value.rows[1].iconKey, "a refresh keeps the rest")

        // An account added elsewhere (the add screen) shows at the next refresh.
        store.addUri("otpauth://totp/Later:x?secret=KRSXG5CTMVRXEZLU")
        list.onAction(AccountListAction.Refresh)
        assertEquals(listOf("RFC", "GitHub", "Later"), list.state.value.rows.map { it.issuer })
        assertEquals(store.codeSheet().codes, list.state.value.rows.joinToString("\n") { it.displayCode })
    }

    @Test
    fun searchReorderAndCopyClearedAfter30Seconds() {
        val store = store(FixedClock(59u))
        store.addUri(RFC_SHA1)
        store.addUri("otpauth://totp/GitHub:octo?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=GitHub")
        store.addUri("otpauth://hotp/Bank:me?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=Bank&counter=0")
        val list = list(store)
        list.onAction(AccountListAction.Search("git"))
        assertEquals(listOf("GitHub"), list.state.value.rows.map { it.issuer })
        val githubCode = store.accounts()[1].code
        assertEquals(listOf(githubCode), list.state.value.rows.map { it.code }, "a found account shows its own code")
        list.onAction(AccountListAction.Refresh)
        assertEquals(listOf(githubCode), list.state.value.rows.map { it.code }, "and keeps it at the refresh")
        list.onAction(AccountListAction.Search(""))
        assertEquals(3, list.state.value.rows.size)

        val github = list.state.value.rows[1].id
        list.onAction(AccountListAction.Move(github, 0))
        assertEquals(listOf("GitHub", "RFC", "Bank"), list.state.value.rows.map { it.issuer })
        assertEquals(listOf("GitHub", "RFC", "Bank"), store.accounts().map { it.issuer }, "saved in the vault")

        list.onAction(AccountListAction.Copy(list.state.value.rows[1].id))
        assertEquals(FakeClipboard.Clip("RFC", "94287082"), clipboard.current)
        assertEquals(list.state.value.rows[1].id, list.state.value.copiedId)
        scheduler.advance(29_999)
        assertNotNull(clipboard.current, "still there before 30 s")
        scheduler.advance(1)
        assertNull(clipboard.current, "cleared after 30 s")

        // A second copy restarts the timer; something the user copied since is left alone.
        list.onAction(AccountListAction.Copy(github))
        scheduler.advance(20_000)
        list.onAction(AccountListAction.Copy(list.state.value.rows[1].id))
        scheduler.advance(20_000)
        assertEquals("94287082", clipboard.current?.text, "the first timer was replaced")
        clipboard.copySensitive("user", "something else")
        scheduler.advance(10_000)
        assertEquals("something else", clipboard.current?.text)

        // HOTP: a copy uses the code and the counter moves on.
        val bank = list.state.value.rows[2]
        assertNull(bank.secondsLeft)
        list.onAction(AccountListAction.Copy(bank.id))
        assertEquals(bank.code, clipboard.current?.text)
        assertNotEquals(bank.code, list.state.value.rows[2].code)

        list.onAction(AccountListAction.Move("nope", 0))
        assertReadable(list.state.value.error)
        list.onAction(AccountListAction.DismissError)
        assertNull(list.state.value.error)
    }
}

class AddAccountTest {
    private fun model(store: org.assent.core.Store) = AddAccountModel(store, null, null) { null }

    @Test
    fun aScannedUriIsAddedAndABadOneSaysWhy() = runBlocking {
        val store = store(FixedClock(59u))
        val add = model(store)
        add.perform(AddAccountEffect.Scanned("  $RFC_SHA1\n"))
        val added = assertIs<AddPhase.Added>(add.state.value.phase)
        assertEquals(added.accountId, store.accounts().single().id)

        for (bad in listOf("https://example.com", "otpauth://totp/x?secret=!!!", "otpauth://totp/?secret=JBSWY3DP")) {
            val again = model(store)
            again.perform(AddAccountEffect.Scanned(bad))
            assertEquals(AddPhase.Editing, again.state.value.phase, bad)
            assertReadable(again.state.value.error)
        }
        // The same account twice.
        val twice = model(store)
        twice.perform(AddAccountEffect.Scanned(RFC_SHA1))
        assertReadable(twice.state.value.error)
        assertEquals(1, store.accounts().size)
    }

    @Test
    fun everyTypedErrorOfTheManualEntryGoesNextToItsField() = runBlocking {
        val store = store(FixedClock(59u))
        val add = model(store)
        add.perform(AddAccountEffect.SaveEntry)
        assertEquals(setOf(AccountField.NAME, AccountField.SECRET), add.state.value.fieldErrors.keys)
        add.state.value.fieldErrors.values.forEach(::assertReadable)

        val cases = mapOf(
            AccountField.SECRET to "not base32!",
            AccountField.DIGITS to "12",
            AccountField.PERIOD to "0",
            AccountField.ALGORITHM to "MD5",
            AccountField.KIND to "motp",
        )
        for ((field, value) in cases) {
            val form = model(store)
            form.onAction(AddAccountAction.Set(AccountField.NAME, "alice@example.com"))
            form.onAction(AddAccountAction.Set(AccountField.SECRET, "JBSW Y3DP EHPK 3PXP"))
            form.onAction(AddAccountAction.Set(field, value))
            form.perform(AddAccountEffect.SaveEntry)
            assertEquals(setOf(field), form.state.value.fieldErrors.keys, "$field=$value: ${form.state.value}")
            assertReadable(form.state.value.fieldErrors[field])
            form.onAction(AddAccountAction.Set(field, ""))
            assertTrue(field !in form.state.value.fieldErrors, "editing the field clears its error")
        }

        val form = model(store)
        form.onAction(AddAccountAction.Set(AccountField.ISSUER, "Acme & Co"))
        form.onAction(AddAccountAction.Set(AccountField.NAME, "alice smith"))
        form.onAction(AddAccountAction.Set(AccountField.SECRET, "jbsw-y3dp-ehpk-3pxp"))
        form.perform(AddAccountEffect.SaveEntry)
        assertIs<AddPhase.Added>(form.state.value.phase, "${form.state.value}")
        val account = store.accounts().single()
        assertEquals("Acme & Co" to "alice smith", account.issuer to account.name)
    }

    @Test
    fun anEncryptedExportAsksForItsPassword() = runBlocking {
        val source = store(FixedClock(59u))
        source.addUri(RFC_SHA1)
        val backup = source.exportBackup("horse battery")
        val store = store(FixedClock(59u))
        val add = model(store)
        add.perform(AddAccountEffect.Picked(backup, null))
        assertEquals(AddPhase.NeedsPassword, add.state.value.phase)
        add.perform(AddAccountEffect.Picked(backup, "wrong"))
        assertEquals(AddPhase.NeedsPassword, add.state.value.phase)
        assertReadable(add.state.value.error)
        add.perform(AddAccountEffect.Picked(backup, "horse battery"))
        assertEquals(AddPhase.Imported, add.state.value.phase)
        assertEquals(1u, add.state.value.imported?.added)
        add.perform(AddAccountEffect.Picked("not an export".toByteArray(), null))
        assertReadable(add.state.value.error)
    }

    @Test
    fun cameraFramesAreReadByTheCore() {
        // A frame with nothing in it is not an error; a frame shorter than it says is ignored.
        assertNull(FrameScanner.scan(64, 48, 64, ByteArray(64 * 48) { -1 }))
        assertNull(FrameScanner.scan(64, 48, 64, ByteArray(10)))
    }
}

class AccountDetailsTest {
    @Test
    fun renameAndDelete() {
        val store = store(FixedClock(59u))
        val id = store.addUri(RFC_SHA1)
        val details = assertNotNull(AccountDetailsModel.open(id, store))
        assertNull(details.state.value.portal, "not a push account")
        details.onAction(AccountDetailsAction.SetIssuer("Work"))
        details.onAction(AccountDetailsAction.SetName("me@work"))
        details.onAction(AccountDetailsAction.SaveName)
        assertEquals("Work" to "me@work", store.accounts().single().let { it.issuer to it.name })
        details.onAction(AccountDetailsAction.Delete)
        assertTrue(details.state.value.deleted, "a TOTP-only account is deleted at once")
        assertEquals(0, store.accounts().size)
        assertNull(AccountDetailsModel.open(id, store))
    }
}

class SettingsTest {
    /** The SAF folder, as a plain folder. */
    private class FolderDestination(val dir: File) : BackupDestination {
        override val displayName = "Drive › Backups"

        override fun list(): List<String> = dir.list()?.toList() ?: emptyList()

        override fun write(fileName: String, data: ByteArray) = File(dir, fileName).writeBytes(data)

        override fun delete(fileName: String) {
            File(dir, fileName).delete()
        }
    }

    @Test
    fun choicesAreKeptAndSecureScreenIsOnByDefault() = runBlocking {
        val preferences = MemoryPreferences()
        val staging = Paths.tempDirectory()
        val settings = SettingsModel(store(), preferences, FakeBiometrics(VerificationResult.REFUSED), staging, null)
        assertTrue(settings.state.value.settings.secureScreen)
        assertEquals(Theme.SYSTEM, settings.state.value.settings.theme)
        assertTrue(settings.state.value.privacy.contains("collects nothing"))
        settings.onAction(SettingsAction.SetTheme(Theme.DARK))
        settings.onAction(SettingsAction.SetSecureScreen(false))
        settings.onAction(SettingsAction.SetVerifyBeforeApprove(true))
        settings.perform(SettingsEffect.EnableAppLock)
        assertFalse(settings.state.value.settings.appLock, "refused: stays off")
        assertReadable(settings.state.value.error)
        val again = AppSettings.load(preferences)
        assertEquals(AppSettings(theme = Theme.DARK, secureScreen = false, verifyBeforeApprove = true), again)

        val unlocked = SettingsModel(store(), preferences, FakeBiometrics(VerificationResult.VERIFIED), staging, null)
        unlocked.perform(SettingsEffect.EnableAppLock)
        assertTrue(AppSettings.load(preferences).appLock)
    }

    @Test
    fun automaticBackupsAreCopiedToTheChosenFolderAndImportAsksForThePassword() = runBlocking {
        val store = store(FixedClock(1_796_000_000u))
        store.addUri(RFC_SHA1)
        val staging = File(Paths.tempDirectory(), "backups")
        val folder = Paths.tempDirectory()
        val settings = SettingsModel(store, MemoryPreferences(), FakeBiometrics(VerificationResult.VERIFIED), staging, null)
        settings.perform(SettingsEffect.EnableBackups(FolderDestination(folder), "backup passphrase", 3))
        assertNull(settings.state.value.error, "${settings.state.value.error}")
        assertEquals("Drive › Backups", settings.state.value.backupFolder)
        assertEquals(1, settings.state.value.versions.size)
        val copied = folder.listFiles()!!.single()
        assertTrue(copied.name.startsWith("assent-backup-"))

        // The copy restores into another phone, after its password.
        val other = store()
        val restore = SettingsModel(other, MemoryPreferences(), FakeBiometrics(VerificationResult.VERIFIED), Paths.tempDirectory(), null)
        restore.perform(SettingsEffect.Import(copied.readBytes(), null))
        assertTrue(restore.state.value.importNeedsPassword)
        restore.onAction(SettingsAction.DismissImport)
        assertTrue(!restore.state.value.importNeedsPassword, "the user may cancel the password prompt")
        restore.perform(SettingsEffect.Import(copied.readBytes(), null))
        restore.perform(SettingsEffect.Import(copied.readBytes(), "not it"))
        assertTrue(restore.state.value.importNeedsPassword)
        assertReadable(restore.state.value.error)
        restore.perform(SettingsEffect.Import(copied.readBytes(), "backup passphrase"))
        assertEquals(1u, restore.state.value.imported?.added)
        assertEquals(listOf("RFC"), other.accounts().map { it.issuer })
        restore.onAction(SettingsAction.DismissImport)
        assertNull(restore.state.value.imported)
        settings.perform(SettingsEffect.Export("export passphrase"))
        assertNotNull(settings.state.value.exported)
        settings.onAction(SettingsAction.DismissExport)
        assertNull(settings.state.value.exported)

        // A folder that can no longer be written says so.
        val gone = object : BackupDestination {
            override val displayName = "Gone"
            override fun list(): List<String> = throw SecurityException("revoked")
            override fun write(fileName: String, data: ByteArray) = throw SecurityException("revoked")
            override fun delete(fileName: String) = throw SecurityException("revoked")
        }
        val broken = SettingsModel(store, MemoryPreferences(), FakeBiometrics(VerificationResult.VERIFIED), staging, gone)
        assertReadable(broken.state.value.error)
        assertTrue(broken.state.value.error!!.contains("backup folder"))

        settings.onAction(SettingsAction.DisableBackups)
        assertNull(settings.state.value.backup)
    }
}

class VaultKeyTest {
    /** AndroidKeyStore's AES-GCM key, as a JVM AES-GCM key. */
    private class JvmWrapper : KeyWrapper {
        private val key = javax.crypto.KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()

        override fun wrap(plain: ByteArray): ByteArray {
            val cipher = javax.crypto.Cipher.getInstance("AES/GCM/NoPadding")
            cipher.init(javax.crypto.Cipher.ENCRYPT_MODE, key)
            return cipher.iv + cipher.doFinal(plain)
        }

        override fun unwrap(wrapped: ByteArray): ByteArray {
            val cipher = javax.crypto.Cipher.getInstance("AES/GCM/NoPadding")
            cipher.init(javax.crypto.Cipher.DECRYPT_MODE, key, javax.crypto.spec.GCMParameterSpec(128, wrapped, 0, 12))
            return cipher.doFinal(wrapped, 12, wrapped.size - 12)
        }
    }

    @Test
    fun theVaultKeyIsKeptWrappedAndOpensTheVaultAgain() {
        val dir = Paths.tempDirectory()
        val wrapper = JvmWrapper()
        val file = File(dir, "vault.key")
        val key = WrappedVaultKey(file, wrapper)
        val vault = File(dir, "vault.json").path
        org.assent.core.Store.open(vault, key, null, null).use { it.addUri(RFC_SHA1) }
        assertEquals(60, file.length().toInt(), "12-byte IV + 32-byte key + 16-byte tag")
        val reopened = org.assent.core.Store.open(vault, WrappedVaultKey(file, wrapper), null, null)
        assertEquals(1, reopened.accounts().size)

        // Another Keystore key (the app was restored to a new phone) cannot unwrap it: a typed
        // error, and the file is left as it was.
        val before = file.readBytes()
        val failure = runCatching { org.assent.core.Store.open(vault, WrappedVaultKey(file, JvmWrapper()), null, null) }
        assertTrue(failure.isFailure)
        assertReadable(failure.exceptionOrNull()?.message)
        assertTrue(before.contentEquals(file.readBytes()))
    }
}
