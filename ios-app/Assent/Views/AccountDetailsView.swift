// One account: rename, its portal and device, delete (a push account warns that sign-in
// approvals stop).
import AssentKit
import SwiftUI

struct AccountDetailsView: View {
    @StateObject var model: AccountDetailsModel
    @Environment(\.dismiss) private var dismiss

    var body: some View {
        Form {
            if let state = model.state {
                Section("Name") {
                    TextField("Service", text: Binding(get: { state.issuer }, set: { model.send(.setIssuer($0)) }))
                    TextField("Account", text: Binding(get: { state.name }, set: { model.send(.setName($0)) }))
                    Button("Save") { model.send(.saveName) }
                }
                if let portal = state.portal {
                    Section("Sign-in approvals") {
                        LabeledContent("Portal", value: portal)
                        if let device = state.device { LabeledContent("This phone", value: device) }
                    }
                }
                Section {
                    Button("Delete account", role: .destructive) { model.send(.delete) }
                }
                if let error = state.error { Section { Text(error).foregroundStyle(.red) } }
            }
        }
        .navigationTitle(model.state?.issuer ?? "Account")
        .confirmationDialog("Delete this account?", isPresented: Binding(
            get: { model.state?.confirmDelete != nil },
            set: { if !$0 { model.send(.cancelDelete) } }), titleVisibility: .visible) {
            Button("Delete and stop sign-in approvals", role: .destructive) { model.send(.confirmDelete) }
            Button("Cancel", role: .cancel) { model.send(.cancelDelete) }
        } message: {
            Text(model.state?.confirmDelete ?? "")
        }
        .onChange(of: model.state?.deleted ?? false) { _, deleted in if deleted { dismiss() } }
    }
}
