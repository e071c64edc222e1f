// Settings: theme, screen-capture protection, app lock, Face ID before approving, backups,
// import from Files, privacy, version and licences.
import AssentKit
import SwiftUI
import UniformTypeIdentifiers

struct SettingsView: View {
    @StateObject var model: SettingsModel
    @EnvironmentObject private var router: Router
    /// What the Files picker is open for. One `.fileImporter` serves both: SwiftUI presents
    /// only one of two attached to the same view.
    @State private var choosing = false
    @State private var choice = FileChoice.backupFolder
    @State private var passphrase = ""
    /// The bytes of the file being imported, kept to import again with its password.
    @State private var chosenFile: Data?
    @State private var filePassword = ""

    private enum FileChoice { case backupFolder, importFile }

    var body: some View {
        let state = model.state
        Form {
            Section("Appearance") {
                Picker("Theme", selection: Binding(get: { state.settings.theme },
                                                   set: { model.send(.setTheme($0)); router.applySettings() })) {
                    Text("System").tag(Theme.system)
                    Text("Light").tag(Theme.light)
                    Text("Dark").tag(Theme.dark)
                }
            }
            Section("Security") {
                Toggle("Hide content in the app switcher and recordings", isOn: Binding(
                    get: { state.settings.screenCaptureProtection },
                    set: { model.send(.setScreenCaptureProtection($0)) }))
                Toggle("Lock with Face ID", isOn: Binding(
                    get: { state.settings.appLock },
                    set: { on in
                        if on { Task { await model.perform(.enableAppLock) } } else { model.send(.disableAppLock) }
                    }))
                Toggle("Face ID before every approval", isOn: Binding(
                    get: { state.settings.verifyBeforeApprove },
                    set: { model.send(.setVerifyBeforeApprove($0)) }))
            }
            Section("Backups") {
                if let backup = state.backup {
                    LabeledContent("Folder", value: backup.folder)
                    if let last = backup.lastSuccessAt {
                        LabeledContent("Last backup",
                                       value: Date(timeIntervalSince1970: TimeInterval(last)).formatted())
                    }
                    if let failure = backup.lastFailure { Text(failure).foregroundStyle(.red) }
                    LabeledContent("Versions", value: "\(state.versions.count)")
                    ForEach(state.versions, id: \.path) { version in
                        Button("Restore \(Date(timeIntervalSince1970: TimeInterval(version.time)).formatted())") {
                            let chosen = passphrase
                            Task { await model.perform(.restore(path: version.path, passphrase: chosen)) }
                        }
                        .disabled(passphrase.isEmpty)
                    }
                    SecureField("Backup passphrase (to restore)", text: $passphrase)
                    Button("Turn off automatic backups", role: .destructive) { model.send(.disableBackups) }
                } else {
                    SecureField("Backup passphrase", text: $passphrase)
                    Button("Back up automatically to a folder…") { choose(.backupFolder) }
                        .disabled(passphrase.count < 8)
                }
            }
            Section("Import") {
                switch state.fileImport {
                case .idle:
                    Button("Import an export or a backup…") { choose(.importFile) }
                case .needsPassword:
                    Text("This file is encrypted.")
                    SecureField("The file's password", text: $filePassword)
                    // A wrong password is said here, next to the field, not at the foot of the form.
                    if let error = state.error { Text(error).foregroundStyle(.red) }
                    Button("Import") {
                        guard let chosenFile else { return }
                        let password = filePassword
                        Task { await model.perform(.importFile(data: chosenFile, password: password)) }
                    }
                    .disabled(filePassword.isEmpty)
                    Button("Cancel", role: .cancel, action: finishImport)
                case .imported(let report):
                    ForEach(report.summary, id: \.self) { Text($0) }
                    Button("Done", action: finishImport)
                }
            }
            Section("Privacy") { Text(state.privacy) }
            Section("About") {
                LabeledContent("Version",
                               value: Bundle.main.object(forInfoDictionaryKey: "CFBundleShortVersionString") as? String ?? "")
                if let licences = URL(string: "https://github.com/assent-auth/assent#licence") {
                    Link("Licences", destination: licences)
                }
                Text("Issuer icons: Simple Icons (CC0 1.0). Brand logos remain their owners' trademarks.")
                    .font(.footnote).foregroundStyle(.secondary)
            }
            if let error = state.error, state.fileImport != .needsPassword {
                Section { Text(error).foregroundStyle(.red) }
            }
        }
        .navigationTitle("Settings")
        .onAppear { model.send(.refresh) }
        .fileImporter(isPresented: $choosing,
                      allowedContentTypes: choice == .backupFolder ? [.folder] : [.data]) { result in
            switch choice {
            case .backupFolder:
                // Access stays open: the backups go on being written there.
                guard case .success(let folder) = result, folder.startAccessingSecurityScopedResource() else { return }
                let chosen = passphrase
                passphrase = ""
                Task { await model.perform(.enableBackups(folder: folder.path, passphrase: chosen, keep: 10)) }
            case .importFile:
                guard case .success(let file) = result, let data = read(file) else {
                    model.send(.chosenFileUnreadable)
                    return
                }
                chosenFile = data
                filePassword = ""
                Task { await model.perform(.importFile(data: data, password: nil)) }
            }
        }
    }

    private func choose(_ what: FileChoice) {
        choice = what
        choosing = true
    }

    private func finishImport() {
        chosenFile = nil
        filePassword = ""
        model.send(.dismissImport)
    }

    /// The bytes of a file chosen in Files. Its URL is security-scoped: readable only between
    /// start and stop. The file coordinator downloads an iCloud Drive file that is not on the
    /// phone yet, which a plain read would fail on.
    private func read(_ url: URL) -> Data? {
        let scoped = url.startAccessingSecurityScopedResource()
        defer { if scoped { url.stopAccessingSecurityScopedResource() } }
        var data: Data?
        var failure: NSError?
        NSFileCoordinator().coordinate(readingItemAt: url, options: [], error: &failure) { readable in
            data = try? Data(contentsOf: readable)
        }
        return failure == nil ? data : nil
    }
}
