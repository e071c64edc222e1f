// Approve or deny one sign-in: the context, a countdown to the expiry, and a number pad for the
// number the sign-in page shows.
import AssentKit
import SwiftUI

struct ApprovalView: View {
    @StateObject var model: ApprovalModel
    @Environment(\.dismiss) private var dismiss

    var body: some View {
        let state = model.state
        let context = state.context
        VStack(spacing: 20) {
            Text(context.title).font(.title2.bold()).multilineTextAlignment(.center)
            Text(context.subtitle).foregroundStyle(.secondary)
            Text(context.body).multilineTextAlignment(.center)
            TimelineView(.periodic(from: .now, by: 1)) { tick in
                Text(state.phase == .open ? "Expires in \(state.secondsLeft) s" : "")
                    .monospacedDigit().foregroundStyle(state.secondsLeft <= 10 ? .red : .secondary)
                    .onChange(of: tick.date) { _, _ in model.send(.tick) }
            }
            if let digits = state.digitsToType, state.phase == .open {
                NumberEntry(number: state.number, digits: digits,
                            type: { model.send(.typeDigit($0)) }, delete: { model.send(.deleteDigit) })
            }
            if let error = state.error {
                Text(error).foregroundStyle(.red).multilineTextAlignment(.center)
            }
            switch state.phase {
            case .open, .sending:
                HStack {
                    Button("Deny", role: .destructive) { Task { await model.perform(.deny(notMe: false)) } }
                        .buttonStyle(.bordered)
                    Button("Approve") { Task { await model.perform(.approve) } }
                        .buttonStyle(.borderedProminent)
                        .disabled(!state.canApprove)
                }
                Button("This wasn't me", role: .destructive) { Task { await model.perform(.deny(notMe: true)) } }
                    .font(.footnote)
            case .approved:
                Label("Approved", systemImage: "checkmark.circle.fill").foregroundStyle(.green)
                Button("Done") { dismiss() }
            case .denied:
                Label("Denied", systemImage: "xmark.circle.fill").foregroundStyle(.red)
                Button("Done") { dismiss() }
            case .expired, .closed:
                Button("Close") { dismiss() }
            }
        }
        .padding()
        .interactiveDismissDisabled(state.phase == .sending)
    }
}

struct NumberEntry: View {
    let number: String
    let digits: Int
    let type: (Character) -> Void
    let delete: () -> Void

    var body: some View {
        VStack(spacing: 12) {
            HStack {
                ForEach(0..<digits, id: \.self) { index in
                    let typed = Array(number)
                    Text(index < typed.count ? String(typed[index]) : " ")
                        .font(.largeTitle.monospacedDigit())
                        .frame(width: 44, height: 56)
                        .background(RoundedRectangle(cornerRadius: 8).stroke(.secondary))
                }
            }
            .accessibilityLabel("Number typed: \(number)")
            LazyVGrid(columns: Array(repeating: GridItem(.fixed(72)), count: 3), spacing: 8) {
                ForEach(Array("123456789"), id: \.self) { digit in
                    Button(String(digit)) { type(digit) }.font(.title)
                }
                Color.clear
                Button("0") { type("0") }.font(.title)
                Button(action: delete) { Image(systemName: "delete.left") }
                    .accessibilityLabel("Delete")
            }
        }
    }
}
