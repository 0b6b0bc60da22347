// libFuzzer target for the trace decoder, which reads files that may be cut off or damaged: any byte string must
// decode or fail with a TraceError whose offset lies within the input, never trap; and whatever decodes must
// re-encode to records that decode to the same inputs, instants and digests. Built by deploy/local/fuzz.sh with
// swiftc directly, against a PlatformCore module built first.

import PlatformCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var decoder = TraceDecoder(bytes: bytes)
    var records: [TraceRecord] = []
    do {
        let header = try decoder.header()
        var headerAgain = TraceDecoder(bytes: TraceEncoder.header(header))
        guard try headerAgain.header() == header else { fatalError("the header does not survive re-encoding") }
        while let record = try decoder.next() { records.append(record) }
    } catch {
        guard error.offset >= 0, error.offset <= size else { fatalError("error offset outside the input: \(error)") }
    }
    var encoder = TraceEncoder()
    for record in records {
        switch record {
        case .input(let input, let now, let digest):
            encoder.append(input, now: now)
            encoder.appendDigest(UInt64(digest))
        case .end(let inputs, let digest): encoder.appendEnd(inputs: inputs, digest: digest)
        }
    }
    let header = TraceHeader(
        reactorIndex: 0, reactorCount: 1, rateLimitPerMinute: 1, rateLimitBurst: 1, requestTimeout: .seconds(1),
        backendCount: 1, keys: [])
    var again = TraceDecoder(bytes: TraceEncoder.header(header) + encoder.bytes)
    do {
        _ = try again.header()
        for record in records {
            guard let decoded = try again.next() else { fatalError("re-encoded trace ends early") }
            guard "\(decoded)" == "\(record)" else { fatalError("re-encoding changed \(record) into \(decoded)") }
        }
        guard try again.next() == nil else { fatalError("re-encoded trace has extra records") }
    } catch {
        fatalError("re-encoded records do not decode: \(error)")
    }
    return 0
}
