package booking

// activeCurrencies lists the active codes of ISO 4217 (list one, as amended up to 2025): the
// national currencies, the fund codes (BOV, CHE, ...) and the precious metals and units of
// account (XAU, XDR, ...). Left out: codes withdrawn before then (HRK, CUC, SLL, ZWL, ...),
// XTS (reserved for testing) and XXX ("no currency"), which cannot price anything.
//
// The codes are sorted, three capital letters each, one space apart; the table is a constant
// so that nothing can change it at run time (TestActiveCurrencies checks its shape).
const activeCurrencies = "" +
	"AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV " +
	"BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK " +
	"DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL " +
	"HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT " +
	"LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR " +
	"MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF " +
	"SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP " +
	"TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU " +
	"XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG"

// ValidCurrency reports whether s is an active ISO 4217 currency code, such as EUR: three
// capital letters are not enough ("ZZZ" is refused).
func ValidCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	// Binary search over the fixed-width table: code i starts at byte 4*i.
	lo, hi := 0, (len(activeCurrencies)+1)/4
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		switch c := activeCurrencies[4*mid : 4*mid+3]; {
		case c == s:
			return true
		case c < s:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return false
}
