// Writes `report.json` (sorted keys, so the same run gives the same bytes) and the
// self-contained `report.html` into a directory.

import Foundation
import Simulation

enum ReportWriter {
    static func write(_ report: RunReport, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = try encoder.encode(report)
        try json.write(to: URL(fileURLWithPath: directory).appendingPathComponent("report.json"))
        let html = HTMLReport.render(report)
        try Data(html.utf8).write(to: URL(fileURLWithPath: directory).appendingPathComponent("report.html"))
    }
}
