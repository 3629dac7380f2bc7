package eg

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"math/big"
	"reflect"
	"strconv"
)

// CryptoHashable is implemented by record objects that hash to an
// ElementModQ (python's crypto_hash); Hash includes such an object as the hex
// of its hash.
type CryptoHashable interface {
	CryptoHash(g *Group) ElementModQ
}

// Hash is ElectionGuard 1.x's H, exactly as electionguard-python 1.x's
// hash_elems computes it: SHA-256 of "|" + s(x1) + "|" + … + s(xn) + "|",
// read as a big-endian integer and reduced mod q, where s is
//
//   - ElementModP, ElementModQ: Hex (upper case, even length);
//   - CryptoHashable: the Hex of its CryptoHash;
//   - string: itself (the empty string stays empty);
//   - signed and unsigned integers, *big.Int: decimal ("0" for 0);
//   - bool: "True" or "False" (python's str of a bool, which is an int);
//   - nil, a nil pointer, an empty slice or array: "null";
//   - a non-empty slice or array: the Hex of Hash of its elements (recursive);
//   - a non-nil pointer: s of what it points to.
//
// Hash panics on any other type: that is a programming error, and guessing an
// encoding would silently produce hashes no other implementation reproduces.
func (g *Group) Hash(items ...any) ElementModQ {
	h := sha256.New()
	h.Write([]byte{'|'})
	for _, x := range items {
		g.writeHashItem(h, x)
		h.Write([]byte{'|'})
	}
	return g.hashDigest(h)
}

func (g *Group) hashDigest(h hash.Hash) ElementModQ {
	x := new(big.Int).SetBytes(h.Sum(nil))
	return ElementModQ{v: x.Mod(x, g.q)}
}

func (g *Group) writeHashItem(h hash.Hash, x any) {
	switch v := x.(type) {
	case nil:
		h.Write([]byte("null"))
	case ElementModP:
		h.Write(appendPyHex(nil, v.big()))
	case ElementModQ:
		h.Write(appendPyHex(nil, v.big()))
	case CryptoHashable:
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			h.Write([]byte("null"))
			return
		}
		h.Write([]byte(v.CryptoHash(g).Hex()))
	case string:
		h.Write([]byte(v))
	case bool:
		if v {
			h.Write([]byte("True"))
		} else {
			h.Write([]byte("False"))
		}
	case *big.Int:
		if v == nil {
			h.Write([]byte("null"))
			return
		}
		h.Write([]byte(v.String()))
	case int:
		h.Write([]byte(strconv.FormatInt(int64(v), 10)))
	case int64:
		h.Write([]byte(strconv.FormatInt(v, 10)))
	case uint64:
		h.Write([]byte(strconv.FormatUint(v, 10)))
	default:
		g.writeReflectedHashItem(h, x)
	}
}

// writeReflectedHashItem handles the other integer kinds, pointers and
// sequences.
func (g *Group) writeReflectedHashItem(h hash.Hash, x any) {
	rv := reflect.ValueOf(x)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		h.Write([]byte(strconv.FormatInt(rv.Int(), 10)))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		h.Write([]byte(strconv.FormatUint(rv.Uint(), 10)))
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			h.Write([]byte("null"))
			return
		}
		g.writeHashItem(h, rv.Elem().Interface())
	case reflect.Slice, reflect.Array:
		if rv.Len() == 0 {
			h.Write([]byte("null"))
			return
		}
		elems := make([]any, rv.Len())
		for i := range elems {
			elems[i] = hashableElem(rv.Index(i))
		}
		h.Write([]byte(g.Hash(elems...).Hex()))
	case reflect.String:
		h.Write([]byte(rv.String()))
	case reflect.Bool:
		g.writeHashItem(h, rv.Bool())
	default:
		panic(fmt.Sprintf("eg: Hash cannot encode a %T; convert it to a string, integer, element or slice", x))
	}
}

// hashableElem returns a sequence element, or its address when only the
// pointer implements CryptoHashable (a []Contest whose CryptoHash has a
// pointer receiver).
func hashableElem(v reflect.Value) any {
	x := v.Interface()
	if _, ok := x.(CryptoHashable); !ok && v.CanAddr() {
		if p, ok := v.Addr().Interface().(CryptoHashable); ok {
			return p
		}
	}
	return x
}
