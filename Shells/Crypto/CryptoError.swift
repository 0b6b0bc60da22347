// The one error type of the libcrypto shell: a sentence for the operator plus OpenSSL's own reason, read from
// (and then cleared off) the thread's error queue so a later call never reports a stale failure.

import CCrypto

/// A key could not be loaded or an operation failed; the message says which and why.
public struct CryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }

    /// An error for `context`, with the oldest OpenSSL reason on this thread's queue; the queue is emptied.
    static func openSSL(_ context: String) -> CryptoError {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return CryptoError(context) }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        let reason = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return CryptoError("\(context) (\(reason))")
    }
}
