// Settings: theme, screen-capture protection, app lock, Face ID before approving, backups,
// privacy, version and licences.
import AssentKit
import SwiftUI
import UniformTypeIdentifiers

struct SettingsView: View {
    @StateObject var model: SettingsModel
    @EnvironmentObject private var router: Router
    @State private var choosingFolder = false
    @State private var passphrase = ""

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
                    Button("Back up automatically to a folder…") { choosingFolder = true }
                        .disabled(passphrase.count < 8)
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
            if let error = state.error { Section { Text(error).foregroundStyle(.red) } }
        }
        .navigationTitle("Settings")
        .onAppear { model.send(.refresh) }
        .fileImporter(isPresented: $choosingFolder, allowedContentTypes: [.folder]) { result in
            guard case .success(let folder) = result, folder.startAccessingSecurityScopedResource() else { return }
            let chosen = passphrase
            passphrase = ""
            Task { await model.perform(.enableBackups(folder: folder.path, passphrase: chosen, keep: 10)) }
        }
    }
}
