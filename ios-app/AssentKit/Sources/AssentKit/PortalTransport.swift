// Sending the core's PortalRequests: the core signs, the app's HTTP stack carries.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Why a request to the portal did not succeed, by what the user can do about it.
public enum PortalFailure: Error, Equatable, Sendable {
    /// The portal refused it: `code` is the protocol's error code (`expired`, `wrong_number`,
    /// `unknown_device`, ...), `status` the HTTP status.
    case refused(status: Int, code: String)
    /// No answer (offline, portal down, timeout).
    case unreachable

    /// A sentence for the user.
    public var message: String {
        switch self {
        case .unreachable:
            return "The sign-in service cannot be reached. Check the connection and try again."
        case .refused(_, let code):
            switch code {
            case "expired":
                return "This sign-in request expired. Nothing was approved; sign in again for a new request."
            case "already_answered":
                return "This sign-in request was already answered."
            case "wrong_number":
                return "That number does not match the sign-in page. The request was refused; sign in again."
            case "unknown_challenge":
                return "This sign-in request is no longer open."
            case "user_verification_required":
                return "This sign-in needs Face ID or your passcode first."
            case "unknown_device":
                return "This phone no longer approves sign-ins for this account. Enroll it again."
            case "clock_skew":
                return "The phone's clock is wrong. Set the time automatically and try again."
            case "enrollment_expired", "enrollment_used", "enrollment_unknown":
                return "This enrollment code is no longer valid. Ask the sign-in page for a new one."
            case "rate_limited":
                return "Too many requests. Wait a moment and try again."
            default:
                return "The sign-in service refused the request. Try again later."
            }
        }
    }

    /// True when the request's challenge expired at the portal.
    public var isExpiry: Bool { code == "expired" }

    var code: String? {
        if case .refused(_, let code) = self { return code }
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
            throw .refused(status: status, code: Self.errorCode(data) ?? "http_\(status)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The `error` field of the portal's `{"error": code, "message": ...}`.
    static func errorCode(_ data: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return nil
        }
        return object["error"] as? String
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
