// Sending the core's PortalRequests: the core signs, the app's HTTP stack carries.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Why a request to the portal did not succeed, by what the user can do about it.
public enum PortalFailure: Error, Equatable, Sendable {
    /// The portal refused it: `code` is the protocol's error code (nil for a body that is not
    /// the portal's error JSON), `message` the core's sentence for the user.
    case refused(status: Int, code: ErrorCode?, message: String)
    /// No answer (offline, portal down, timeout).
    case unreachable

    /// The portal's refusal (`status`, and its `{"error": ...}` body), read by the core, which
    /// knows the protocol's codes and says what each means for the user.
    public static func refusal(status: Int, body: String) -> PortalFailure {
        let refusal = portalRefusal(status: UInt16(clamping: status), body: body)
        return .refused(status: status, code: refusal.code, message: refusal.message)
    }

    /// A sentence for the user.
    public var message: String {
        switch self {
        case .unreachable:
            return "The sign-in service cannot be reached. Check the connection and try again."
        case .refused(_, _, let message):
            return message
        }
    }

    /// True when the request's challenge expired at the portal.
    public var isExpiry: Bool { code == .expired }

    var code: ErrorCode? {
        if case .refused(_, let code, _) = self { return code }
        return nil
    }
}

/// Sends a `PortalRequest` and returns the response body (empty for 204).
public protocol PortalTransport: Sendable {
    func send(_ request: PortalRequest) async throws(PortalFailure) -> String
}

/// The transport over URLSession, for the app and the end-to-end tests alike.
public final class URLSessionPortalTransport: PortalTransport {
    private let session: URLSession

    public init(session: URLSession = URLSession(configuration: .ephemeral)) {
        self.session = session
    }

    public func send(_ request: PortalRequest) async throws(PortalFailure) -> String {
        guard let url = URL(string: request.url) else { throw .unreachable }
        var http = URLRequest(url: url, timeoutInterval: 20)
        http.httpMethod = request.method
        http.setValue(request.contentType, forHTTPHeaderField: "Content-Type")
        http.setValue("application/json", forHTTPHeaderField: "Accept")
        http.httpBody = Data(request.body.utf8)
        let result: (Data, Int)
        do {
            result = try await exchange(http)
        } catch {
            throw .unreachable
        }
        let (data, status) = result
        guard (200..<300).contains(status) else {
            throw .refusal(status: status, body: String(decoding: data, as: UTF8.self))
        }
        return String(decoding: data, as: UTF8.self)
    }

    private func exchange(_ request: URLRequest) async throws -> (Data, Int) {
        try await withCheckedThrowingContinuation { continuation in
            let task = session.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: error)
                } else if let http = response as? HTTPURLResponse {
                    continuation.resume(returning: (data ?? Data(), http.statusCode))
                } else {
                    continuation.resume(throwing: URLError(.badServerResponse))
                }
            }
            task.resume()
        }
    }
}
