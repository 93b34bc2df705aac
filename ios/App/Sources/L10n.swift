// Localizable.strings lookups by key; the same keys as Android's strings.xml
// (scripts/shells-check.sh checks en, es, zh-Hans and fa on both).
import Carnet
import Foundation

func tr(_ key: String, _ args: CVarArg...) -> String {
    let format = NSLocalizedString(key, comment: "")
    return args.isEmpty ? format : String(format: format, locale: Locale.current, arguments: args)
}

func tr(_ message: UiText) -> String {
    if let text = message.text, message.args.isEmpty {
        let format = NSLocalizedString(message.key, comment: "")
        let numbers = text.split(separator: ",").compactMap { Int64($0) }
        return String(format: format, locale: Locale.current, arguments: numbers.map { $0 as CVarArg })
    }
    let format = NSLocalizedString(message.key, comment: "")
    return String(format: format, locale: Locale.current, arguments: message.args.map { $0 as CVarArg })
}
