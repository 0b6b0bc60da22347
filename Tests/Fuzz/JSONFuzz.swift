// libFuzzer target for the JSON reader (scenario files now, API bodies later): any byte string
// must parse or fail with an error, never crash, and whatever parses must write back to text
// that parses to the same value. Built by deploy/local/fuzz.sh with swiftc directly.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? JSONValue.parse(bytes) else { return 0 }
    let text = value.serialized()
    guard let again = try? JSONValue.parse(text), again == value else {
        fatalError("round trip changed the value: \(text)")
    }
    return 0
}
