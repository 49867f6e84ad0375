package pii

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Masks show an operator without pii:read enough to tell guests apart at a desk, and not
// enough to contact them.

const stars = "***"

// MaskEmail keeps the first character of the local part and the domain:
// "jane.doe@example.com" -> "j***@example.com". Without an @ all is masked.
func MaskEmail(email string) string {
	if email == "" {
		return ""
	}
	at := strings.LastIndexByte(email, '@')
	if at <= 0 {
		return stars
	}
	r, _ := utf8.DecodeRuneInString(email)
	return string(r) + stars + email[at:]
}

// MaskPhone keeps a leading +, the first two and the last two digits, and puts six stars
// between whatever the length: "+49 151 234567 12" -> "+49******12". Fewer than six digits
// are all masked.
func MaskPhone(phone string) string {
	if phone == "" {
		return ""
	}
	var digits []byte
	for i := 0; i < len(phone); i++ {
		if phone[i] >= '0' && phone[i] <= '9' {
			digits = append(digits, phone[i])
		}
	}
	if len(digits) < 6 {
		return "******"
	}
	plus := ""
	if strings.HasPrefix(strings.TrimSpace(phone), "+") {
		plus = "+"
	}
	return plus + string(digits[:2]) + "******" + string(digits[len(digits)-2:])
}

// MaskName keeps the first letter of each word: "Jane van Doe" -> "J*** v*** D***".
func MaskName(name string) string {
	words := strings.FieldsFunc(name, unicode.IsSpace)
	for i, w := range words {
		r, _ := utf8.DecodeRuneInString(w)
		words[i] = string(r) + stars
	}
	return strings.Join(words, " ")
}
