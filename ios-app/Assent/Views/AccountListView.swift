// The account list: code with a countdown ring, tap the code to copy, tap the row for details.
import AssentKit
import SwiftUI

struct AccountListView: View {
    @StateObject var model: AccountListModel
    let environment: AppEnvironment
    @State private var adding = false
    @State private var query = ""

    var body: some View {
        TimelineView(.periodic(from: .now, by: 1)) { context in
            List {
                if model.state.isEmpty {
                    ContentUnavailableView("No accounts yet", systemImage: "qrcode.viewfinder",
                                           description: Text("Scan a QR code to add one."))
                }
                ForEach(model.state.rows) { row in
                    NavigationLink {
                        AccountDetailsView(model: AccountDetailsModel(accountId: row.id, environment: environment))
                    } label: {
                        AccountRowView(row: row, copied: model.state.copiedId == row.id) {
                            model.send(.copy(id: row.id))
                        }
                    }
                }
                .onMove { from, to in
                    guard let index = from.first else { return }
                    let id = model.state.rows[index].id
                    model.send(.move(id: id, to: to > index ? to - 1 : to))
                }
            }
            .onChange(of: context.date) { _, _ in model.send(.refresh) }
        }
        .searchable(text: $query, prompt: "Search accounts")
        .onChange(of: query) { _, text in model.send(.search(text)) }
        .navigationTitle("Assent")
        .toolbar {
            ToolbarItem(placement: .topBarLeading) {
                NavigationLink {
                    SettingsView(model: SettingsModel(environment: environment))
                } label: { Image(systemName: "gear") }
                .accessibilityLabel("Settings")
            }
            ToolbarItem(placement: .topBarTrailing) {
                Button { adding = true } label: { Image(systemName: "plus") }
                    .accessibilityLabel("Add account")
            }
            ToolbarItem(placement: .topBarTrailing) { EditButton() }
        }
        .sheet(isPresented: $adding, onDismiss: { model.send(.refresh) }) {
            AddAccountView(model: AddAccountModel(environment: environment))
        }
        .alert("Something went wrong", isPresented: Binding(
            get: { model.state.error != nil }, set: { if !$0 { model.send(.dismissError) } })) {
            Button("OK", role: .cancel) {}
        } message: {
            Text(model.state.error ?? "")
        }
    }
}

struct AccountRowView: View {
    let row: AccountRow
    let copied: Bool
    let copy: () -> Void

    var body: some View {
        HStack(spacing: 12) {
            IssuerIcon(icon: row.icon)
            VStack(alignment: .leading, spacing: 2) {
                Text(row.issuer.isEmpty ? row.name : row.issuer).font(.headline)
                if !row.issuer.isEmpty { Text(row.name).font(.subheadline).foregroundStyle(.secondary) }
                Button(action: copy) {
                    Text(copied ? "Copied" : row.displayCode)
                        .font(.system(.title2, design: .monospaced).weight(.semibold))
                        .contentTransition(.numericText())
                }
                .buttonStyle(.borderless)
                .accessibilityHint("Copies the code")
                if row.approvesSignIns {
                    Label("Sign-in approvals", systemImage: "checkmark.shield")
                        .font(.caption).foregroundStyle(.tint)
                }
            }
            Spacer()
            if let seconds = row.secondsLeft {
                CountdownRing(progress: row.progress, seconds: seconds)
            }
        }
        .padding(.vertical, 4)
    }
}

struct CountdownRing: View {
    let progress: Double
    let seconds: UInt32

    var body: some View {
        ZStack {
            Circle().stroke(.quaternary, lineWidth: 4)
            Circle()
                .trim(from: 0, to: progress)
                .stroke(seconds <= 5 ? Color.red : Color.accentColor,
                        style: StrokeStyle(lineWidth: 4, lineCap: .round))
                .rotationEffect(.degrees(-90))
                .animation(.linear(duration: 1), value: progress)
            Text("\(seconds)").font(.caption2.monospacedDigit())
        }
        .frame(width: 32, height: 32)
        .accessibilityLabel("\(seconds) seconds left")
    }
}

/// A brand icon from the asset catalog (docs/icons.md: `scripts/icons.py ios`), or a letter.
struct IssuerIcon: View {
    let icon: AccountIcon

    var body: some View {
        switch icon {
        case .brand(_, let title, let asset, let color):
            Image(asset)
                .renderingMode(.template)
                .resizable().scaledToFit().padding(8)
                .foregroundStyle(.white)
                .frame(width: 40, height: 40)
                .background(Circle().fill(Color(hex: color)))
                .accessibilityLabel(title)
        case .letter(let letter, let color):
            Text(letter)
                .font(.headline).foregroundStyle(.white)
                .frame(width: 40, height: 40)
                .background(Circle().fill(Color(hex: color)))
                .accessibilityHidden(true)
        }
    }
}

extension Color {
    /// `#RRGGBB` (the core's colours); grey for anything else.
    init(hex: String) {
        let digits = hex.hasPrefix("#") ? String(hex.dropFirst()) : hex
        guard digits.count == 6, let value = UInt32(digits, radix: 16) else {
            self = .gray
            return
        }
        self.init(red: Double((value >> 16) & 0xff) / 255, green: Double((value >> 8) & 0xff) / 255,
                  blue: Double(value & 0xff) / 255)
    }
}
