// Request targets taken apart byte-wise: Character iteration (grapheme breaking) costs more than the rest of a
// small request's routing, and targets are ASCII after the parser's checks anyway.

enum HTTPPath {
    /// The target's path (before any `?`) and its segments, split at `/` with empty segments dropped.
    static func split(_ target: String) -> (path: Substring, segments: [Substring]) {
        let end = target.utf8.firstIndex(of: UInt8(ascii: "?")) ?? target.utf8.endIndex
        let path = target[..<end]
        let segments = path.utf8.split(separator: UInt8(ascii: "/")).map { Substring($0) }
        return (path, segments)
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        let bytes = utf8
        guard let first = bytes.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
            let last = bytes.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })
        else { return "" }
        return String(self[first...last])
    }
}
