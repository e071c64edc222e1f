// Add: scan a QR (VisionKit), pick a screenshot (PhotosUI; the core reads the QR), or type the
// key, with each error next to its field. The one QR also enrolls push: a check mark when the
// portal has verified this phone.
import AssentKit
import PhotosUI
import SwiftUI
import VisionKit

struct AddAccountView: View {
    @StateObject var model: AddAccountModel
    @Environment(\.dismiss) private var dismiss
    @State private var photo: PhotosPickerItem?
    @State private var pickedData: Data?
    @State private var password = ""
    @State private var scanning = false

    var body: some View {
        NavigationStack {
            Form {
                switch model.state.phase {
                case .enrolled:
                    Section {
                        Label("This phone now approves sign-ins", systemImage: "checkmark.circle.fill")
                            .foregroundStyle(.green).font(.headline)
                        Button("Done") { dismiss() }
                    }
                case .added:
                    Section {
                        Label("Account added", systemImage: "checkmark.circle.fill").foregroundStyle(.green)
                        Button("Done") { dismiss() }
                    }
                case .imported:
                    Section {
                        let report = model.state.imported
                        Label("\(report?.added ?? 0) added", systemImage: "checkmark.circle.fill")
                            .foregroundStyle(.green)
                        if let duplicates = report?.duplicates, !duplicates.isEmpty {
                            Text("Already here: \(duplicates.joined(separator: ", "))")
                        }
                        ForEach(report?.skipped ?? [], id: \.self) { Text($0).foregroundStyle(.orange) }
                        ForEach(report?.missingParts ?? [], id: \.self) { Text("Still to scan: \($0)") }
                        Button("Done") { dismiss() }
                    }
                case .working:
                    Section { ProgressView("Enrolling this phone…") }
                case .needsPassword:
                    Section("This export is encrypted") {
                        SecureField("Password", text: $password)
                        Button("Import") {
                            guard let pickedData else { return }
                            Task { await model.perform(.picked(pickedData, password: password)) }
                        }
                    }
                case .editing:
                    sources
                    manualEntry
                }
                if let error = model.state.error {
                    Section { Text(error).foregroundStyle(.red) }
                }
            }
            .navigationTitle("Add account")
            .toolbar { ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } } }
            .sheet(isPresented: $scanning) {
                QRScanner { text in
                    scanning = false
                    Task { await model.perform(.scanned(text)) }
                }
                .ignoresSafeArea()
            }
            .onChange(of: photo) { _, item in
                Task {
                    guard let data = try? await item?.loadTransferable(type: Data.self) else { return }
                    pickedData = data
                    await model.perform(.picked(data, password: nil))
                }
            }
        }
    }

    private var sources: some View {
        Section {
            Button {
                scanning = true
            } label: { Label("Scan a QR code", systemImage: "qrcode.viewfinder") }
            .disabled(!(DataScannerViewController.isSupported && DataScannerViewController.isAvailable))
            PhotosPicker(selection: $photo, matching: .images) {
                Label("Choose a screenshot", systemImage: "photo")
            }
        }
    }

    private var manualEntry: some View {
        Section("Enter the key by hand") {
            field(.issuer, "Service (optional)", model.state.entry.issuer)
            field(.name, "Account name", model.state.entry.name)
            field(.secret, "Key", model.state.entry.secret)
            Picker("Type", selection: binding(.kind, model.state.entry.kind)) {
                Text("Time-based").tag("totp")
                Text("Counter-based").tag("hotp")
                Text("Steam").tag("steam")
            }
            error(.kind)
            Picker("Algorithm", selection: binding(.algorithm, model.state.entry.algorithm)) {
                ForEach(["SHA1", "SHA256", "SHA512"], id: \.self) { Text($0).tag($0) }
            }
            error(.algorithm)
            field(.digits, "Digits", model.state.entry.digits).keyboardType(.numberPad)
            if model.state.entry.kind == "hotp" {
                field(.counter, "Counter", model.state.entry.counter).keyboardType(.numberPad)
            } else {
                field(.period, "Seconds per code", model.state.entry.period).keyboardType(.numberPad)
            }
            Button("Add account") { Task { await model.perform(.saveEntry) } }
        }
    }

    private func field(_ field: AccountField, _ title: String, _ value: String) -> some View {
        VStack(alignment: .leading) {
            TextField(title, text: binding(field, value))
                .textInputAutocapitalization(.never).autocorrectionDisabled()
            error(field)
        }
    }

    @ViewBuilder
    private func error(_ field: AccountField) -> some View {
        if let message = model.state.fieldErrors[field] {
            Text(message).font(.footnote).foregroundStyle(.red)
        }
    }

    private func binding(_ field: AccountField, _ value: String) -> Binding<String> {
        Binding(get: { value }, set: { model.send(.set(field, $0)) })
    }
}

/// VisionKit's live QR scanner.
struct QRScanner: UIViewControllerRepresentable {
    let found: (String) -> Void

    func makeUIViewController(context: Context) -> DataScannerViewController {
        let scanner = DataScannerViewController(
            recognizedDataTypes: [.barcode(symbologies: [.qr])], qualityLevel: .balanced,
            isHighlightingEnabled: true)
        scanner.delegate = context.coordinator
        try? scanner.startScanning()
        return scanner
    }

    func updateUIViewController(_ controller: DataScannerViewController, context: Context) {}

    func makeCoordinator() -> Coordinator { Coordinator(found: found) }

    final class Coordinator: NSObject, DataScannerViewControllerDelegate {
        let found: (String) -> Void
        init(found: @escaping (String) -> Void) { self.found = found }

        func dataScanner(_ scanner: DataScannerViewController, didAdd items: [RecognizedItem],
                         allItems: [RecognizedItem]) {
            for case .barcode(let code) in items {
                if let text = code.payloadStringValue {
                    scanner.stopScanning()
                    found(text)
                    return
                }
            }
        }
    }
}
