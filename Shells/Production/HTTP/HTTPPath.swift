// Request targets taken apart byte-wise: Character iteration (grapheme breaking) costs more than the rest of a
// small request's routing, and targets are ASCII after the parser's checks anyway.

enum HTTPPath {
    /// The target's path (before any `?`) and its segments, split at `/` with empty segments dropped.
    static func split(_ target: String) -> (path: Substring, segments: [Substring]) {
        let utf8 = target.utf8
        let end = utf8.firstIndex(of: UInt8(ascii: "?")) ?? utf8.endIndex
        var segments: [Substring] = []
        segments.reserveCapacity(8)
        var segmentStart = utf8.startIndex
        var index = utf8.startIndex
        while index != end {
            if utf8[index] == UInt8(ascii: "/") {
                if segmentStart != index { segments.append(target[segmentStart..<index]) }
                segmentStart = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        if segmentStart != end { segments.append(target[segmentStart..<end]) }
        return (target[..<end], segments)
    }

    /// The model of a target spelled exactly `/v2/models/{name}/infer` (no query, no empty segment, no version),
    /// which `split` would give as `v2`, `models`, the name and `infer`; nil for every other target.
    static func kserveInferModel(_ target: String) -> Substring? {
        let utf8 = target.utf8
        let prefix = "/v2/models/".utf8
        let suffix = "/infer".utf8
        guard utf8.count > prefix.count + suffix.count, utf8.starts(with: prefix),
            utf8.reversed().starts(with: suffix.reversed())
        else { return nil }
        let start = utf8.index(utf8.startIndex, offsetBy: prefix.count)
        let end = utf8.index(utf8.endIndex, offsetBy: -suffix.count)
        guard !utf8[start..<end].contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) else {
            return nil
        }
        return target[start..<end]
    }
}
