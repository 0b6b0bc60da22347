// The embedded object store: one file per object under a root folder. A put is atomic and durable: the
// bytes go to a temporary file in the destination's own folder (a rename is atomic only within one file
// system), the file is fsynced, renamed over the key, and the folder is fsynced so the rename itself
// survives a power loss. A reader therefore sees the old object, the new one, or none, never a prefix.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An object-store call that failed: which key, what was being done, and the system's reason.
public enum ObjectStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The key is not a relative path of plain segments.
    case invalidKey(String, reason: String)
    /// No object under the key.
    case notFound(String)
    /// A system call failed.
    case io(key: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .invalidKey(let key, let reason): "invalid object key \"\(key)\": \(reason)"
        case .notFound(let key): "no object under \"\(key)\""
        case .io(let key, let operation, let code):
            "\(operation) failed for object \"\(key)\": \(String(cString: strerror(code)))"
        }
    }
}

/// Objects as files under `root`. Blocking (it fsyncs): call it on the store thread, never a reactor's.
public final class FolderObjectStore: Sendable {
    /// The folder holding every object; created if missing.
    public let root: String
    /// Keys at most this long, in bytes.
    public static let keyLengthMax = 1_024

    public init(root: String) throws {
        self.root = root
        try Self.makeDirectories(root, key: "")
    }

    /// Stores `bytes` under `key`, replacing any object there, atomically and durably.
    public func put(_ bytes: [UInt8], at key: String) throws {
        try Self.validate(key)
        let path = root + "/" + key
        let folder = String(path[..<path.lastIndex(of: "/")!])
        try Self.makeDirectories(folder, key: key)
        // The temporary name starts with a dot, which `validate` refuses in keys, so it never shadows one.
        let name = String(path[path.index(after: path.lastIndex(of: "/")!)...])
        var template = Array((folder + "/." + name + ".tmp-XXXXXX").utf8CString)
        let descriptor = mkstemp(&template)
        guard descriptor >= 0 else {
            throw ObjectStoreError.io(key: key, operation: "create temporary file", errno: errno)
        }
        let temporary = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        do {
            try Self.writeAll(bytes, to: descriptor, key: key)
            guard fsync(descriptor) == 0 else { throw ObjectStoreError.io(key: key, operation: "fsync", errno: errno) }
            guard close(descriptor) == 0 else { throw ObjectStoreError.io(key: key, operation: "close", errno: errno) }
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw ObjectStoreError.io(key: key, operation: "rename", errno: code)
        }
        try Self.syncDirectory(folder, key: key)
    }

    /// The object under `key`.
    public func get(_ key: String) throws -> [UInt8] {
        try Self.validate(key)
        let descriptor = open(root + "/" + key, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw ObjectStoreError.notFound(key) }
            throw ObjectStoreError.io(key: key, operation: "open", errno: code)
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1_024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return bytes }
            if count < 0 {
                if errno == EINTR { continue }
                throw ObjectStoreError.io(key: key, operation: "read", errno: errno)
            }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    /// Removes the object under `key`; removing a missing object is not an error (deletes are retried).
    public func delete(_ key: String) throws {
        try Self.validate(key)
        guard unlink(root + "/" + key) == 0 || errno == ENOENT else {
            throw ObjectStoreError.io(key: key, operation: "unlink", errno: errno)
        }
    }

    /// Checks that `key` names a file below the root: relative, segments of `[A-Za-z0-9._-]` that are not
    /// empty, `.`, `..` or hidden (a leading dot is reserved for temporary files).
    public static func validate(_ key: String) throws {
        func refuse(_ reason: String) -> ObjectStoreError { .invalidKey(key, reason: reason) }
        guard !key.isEmpty else { throw refuse("it is empty") }
        guard key.utf8.count <= keyLengthMax else { throw refuse("it is longer than \(keyLengthMax) bytes") }
        guard !key.hasPrefix("/") else { throw refuse("it is an absolute path") }
        for segment in key.split(separator: "/", omittingEmptySubsequences: false) {
            if segment.isEmpty { throw refuse("it has an empty path segment") }
            if segment == ".." { throw refuse("it climbs out of the store with \"..\"") }
            if segment.hasPrefix(".") { throw refuse("segment \"\(segment)\" starts with a dot") }
            let allowed = segment.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39)
                    || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D
            }
            if !allowed { throw refuse("segment \"\(segment)\" has a character outside A-Z a-z 0-9 . _ -") }
        }
    }

    // MARK: - System calls

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32, key: String) throws {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ObjectStoreError.io(key: key, operation: "write", errno: errno)
            }
            written += count
        }
    }

    /// `mkdir -p`, fsyncing each parent whose entry was created so a new folder outlives a crash too.
    private static func makeDirectories(_ path: String, key: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for segment in path.split(separator: "/") {
            let parent = prefix.isEmpty ? "/" : prefix
            prefix += "/" + segment
            if mkdir(prefix, 0o755) == 0 {
                try syncDirectory(parent, key: key)
            } else if errno != EEXIST {
                throw ObjectStoreError.io(key: key, operation: "mkdir \(prefix)", errno: errno)
            }
        }
    }

    private static func syncDirectory(_ path: String, key: String) throws {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ObjectStoreError.io(key: key, operation: "open folder", errno: errno) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw ObjectStoreError.io(key: key, operation: "fsync folder", errno: errno)
        }
    }
}
