// The settings screen: theme, screen-capture protection, app lock, Face ID before approving,
// backups (export, automatic versions in a folder, restore), and import of a file from Files.
import Foundation

public enum Theme: String, Codable, Sendable, CaseIterable {
    case system, light, dark
}

/// The user's choices, kept in `Preferences`.
public struct AppSettings: Codable, Equatable, Sendable {
    public var theme: Theme = .system
    /// Hide the content in the app switcher and while the screen is recorded. On by default.
    public var screenCaptureProtection = true
    /// Face ID to open the app.
    public var appLock = false
    /// Face ID before every approval, even when the portal does not ask.
    public var verifyBeforeApprove = false
    public init() {}

    static let key = "settings"

    public static func load(_ preferences: Preferences) -> AppSettings {
        preferences.data(forKey: key).flatMap { try? JSONDecoder().decode(AppSettings.self, from: $0) }
            ?? AppSettings()
    }

    func save(_ preferences: Preferences) {
        preferences.set(try? JSONEncoder().encode(self), forKey: Self.key)
    }
}

public struct SettingsState: Equatable, Sendable {
    public var settings: AppSettings
    public var backup: BackupStatusView?
    public var versions: [BackupVersionView] = []
    /// The encrypted backup file just made, for the share sheet.
    public var exported: Data?
    /// What the last restore did.
    public var restored: ImportReport?
    /// Where the import of a file chosen in Files stands.
    public var fileImport: FileImport = .idle
    public var error: String?
    /// Nothing leaves the phone: what the privacy row says.
    public let privacy = "Assent collects nothing. Your accounts stay on this phone and in the backups you choose."
}

/// Importing an export or a backup the user chose in Files (or iCloud Drive).
public enum FileImport: Equatable, Sendable {
    /// Nothing chosen yet, or the chosen file could not be imported (`error` says why).
    case idle
    /// The file is encrypted: the screen asks for its password and imports the same bytes
    /// again with it. After a wrong password it stays here and `error` says so.
    case needsPassword
    /// Imported: what was added, already there, skipped or still to scan.
    case imported(ImportReport)
}

public enum SettingsAction: Equatable, Sendable {
    case setTheme(Theme)
    case setScreenCaptureProtection(Bool)
    case setVerifyBeforeApprove(Bool)
    case disableAppLock
    case disableBackups
    /// Re-read the backup status and versions (the screen appears).
    case refresh
    /// The file chosen in Files could not be read (the view reads it; the sentence is here).
    case chosenFileUnreadable
    /// The user closed the password prompt or the import's report.
    case dismissImport
}

public enum SettingsEffect: Equatable, Sendable {
    /// Turning app lock on needs Face ID first.
    case enableAppLock
    /// Argon2id: off the main thread.
    case enableBackups(folder: String, passphrase: String, keep: UInt32)
    case export(passphrase: String)
    /// Restores a backup version (or any export file) into the vault; scrypt/Argon2id: slow.
    case restore(path: String, passphrase: String)
    /// Imports the bytes of a file chosen in Files: an export of another app or an Assent
    /// backup. `password` is nil the first time; encrypted files need it (the state moves to
    /// `.needsPassword`). Key derivation for encrypted files: slow.
    case importFile(data: Data, password: String?)
}

/// The one place the settings screen's state changes.
public final class SettingsProcessor {
    public private(set) var state: SettingsState
    private let store: Store
    private let preferences: Preferences
    private let biometrics: Biometrics

    public init(store: Store, preferences: Preferences, biometrics: Biometrics) {
        self.store = store
        self.preferences = preferences
        self.biometrics = biometrics
        state = SettingsState(settings: AppSettings.load(preferences))
        receive(.refresh)
    }

    public func receive(_ action: SettingsAction) {
        state.error = nil
        switch action {
        case .setTheme(let theme): change { $0.theme = theme }
        case .setScreenCaptureProtection(let on): change { $0.screenCaptureProtection = on }
        case .setVerifyBeforeApprove(let on): change { $0.verifyBeforeApprove = on }
        case .disableAppLock: change { $0.appLock = false }
        case .disableBackups:
            attempt { try store.disableAutoBackup() }
            receive(.refresh)
        case .refresh:
            attempt {
                state.backup = try store.backupStatus()
                state.versions = try state.backup.map { try backupVersions(folder: $0.folder) } ?? []
            }
        case .chosenFileUnreadable:
            state.fileImport = .idle
            state.error = "The chosen file cannot be read."
        case .dismissImport:
            state.fileImport = .idle
        }
    }

    public func perform(_ effect: SettingsEffect) async {
        state.error = nil
        switch effect {
        case .enableAppLock:
            switch await biometrics.verify(reason: "Lock Assent with Face ID") {
            case .verified: change { $0.appLock = true }
            case .refused: state.error = "Face ID was not confirmed. App lock stays off."
            case .unavailable: state.error = "Set up Face ID or a passcode first."
            }
        case .enableBackups(let folder, let passphrase, let keep):
            attempt {
                state.backup = try store.enableAutoBackup(folder: folder, keep: keep, passphrase: passphrase)
            }
            receive(.refresh)
        case .export(let passphrase):
            attempt { state.exported = try store.exportBackup(passphrase: passphrase) }
        case .restore(let path, let passphrase):
            attempt {
                let data: Data
                do {
                    data = try Data(contentsOf: URL(fileURLWithPath: path))
                } catch {
                    throw AssentError.Storage(message: "The backup file cannot be read.")
                }
                state.restored = try store.importData(data: data, password: passphrase)
            }
        case .importFile(let data, let password):
            do {
                state.fileImport = .imported(try store.importData(data: data, password: password))
            } catch AssentError.PasswordRequired {
                // Not an error yet: the first try of every encrypted file ends here.
                state.fileImport = .needsPassword
            } catch AssentError.WrongPassword(let message) {
                state.fileImport = .needsPassword
                state.error = message
            } catch {
                state.fileImport = .idle
                state.error = (error as? AssentError)?.message ?? "Something went wrong."
            }
        }
    }

    private func change(_ edit: (inout AppSettings) -> Void) {
        edit(&state.settings)
        state.settings.save(preferences)
    }

    private func attempt(_ body: () throws -> Void) {
        do {
            try body()
        } catch let error as AssentError {
            state.error = error.message
        } catch {
            state.error = "Something went wrong."
        }
    }
}

extension ImportReport {
    /// What an import did, one sentence a line, for the screen that imported the file.
    public var summary: [String] {
        var lines = [added == 0 ? "No new accounts." : added == 1 ? "Added 1 account." : "Added \(added) accounts."]
        if !duplicates.isEmpty {
            lines.append("Already in Assent: \(duplicates.joined(separator: ", ")).")
        }
        // The core's entries read "GitHub (alice): why" and "QR code 2 of 4 …: scan it too".
        lines += skipped.map { "Not imported: \($0)." }
        lines += missingParts.map { "\($0)." }
        return lines
    }
}
