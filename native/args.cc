// Argument checks shared by the N-API glue files (see args.h for the error contract).
#include "args.h"

#include <cmath>

namespace pollset {

namespace {

std::string Quoted(const std::string& name) { return "\"" + name + "\""; }

// What a rejected value was, for the message: numbers as JS prints them, otherwise their type.
std::string Received(Napi::Env env, napi_value value) {
  napi_valuetype type = napi_undefined;
  napi_typeof(env, value, &type);
  switch (type) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_number: {
      napi_value text = nullptr;
      size_t length = 0;
      char buf[64];
      if (napi_coerce_to_string(env, value, &text) == napi_ok &&
          napi_get_value_string_utf8(env, text, buf, sizeof(buf), &length) == napi_ok) {
        return std::string(buf, length);
      }
      return "a number";
    }
    case napi_boolean: return "type boolean";
    case napi_string: return "type string";
    case napi_symbol: return "type symbol";
    case napi_function: return "type function";
    case napi_bigint: return "type bigint";
    default: break;
  }
  bool typed = false;
  napi_is_typedarray(env, value, &typed);
  return typed ? "a typed array of another type" : "type object";
}

const char* ArrayName(napi_typedarray_type type) {
  switch (type) {
    case napi_uint8_array: return "an instance of Uint8Array";
    case napi_int32_array: return "an instance of Int32Array";
    default: return "a typed array";
  }
}

size_t ElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array: return 1;
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    default: return 8;
  }
}

bool Detached(Napi::Env env, napi_value arraybuffer) {
  bool detached = false;
  return arraybuffer && napi_is_detached_arraybuffer(env, arraybuffer, &detached) == napi_ok && detached;
}

void Check(Napi::Env env, napi_status status) {
  if (status != napi_ok) throw Napi::Error::New(env);  // the pending exception, or N-API's own error
}

[[noreturn]] void ThrowWithCode(Napi::Error error, const char* code) {
  error.Set("code", code);
  throw error;
}

}  // namespace

void ThrowTypeError(Napi::Env env, const std::string& name, const char* expected, napi_value got) {
  ThrowWithCode(Napi::TypeError::New(
                    env, "The " + Quoted(name) + " argument must be " + expected + ". Received " + Received(env, got)),
                "ERR_INVALID_ARG_TYPE");
}

void ThrowRangeError(Napi::Env env, const std::string& message) {
  ThrowWithCode(Napi::RangeError::New(env, message), "ERR_OUT_OF_RANGE");
}

Napi::Error StateError(Napi::Env env, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", "ERR_INVALID_STATE");
  return error;
}

void ThrowStateError(Napi::Env env, const std::string& message) { throw StateError(env, message); }

int64_t Integer(Napi::Env env, napi_value value, const std::string& name, int64_t min, int64_t max) {
  double number = 0;
  if (napi_get_value_double(env, value, &number) != napi_ok) ThrowTypeError(env, name, "of type number", value);
  // NaN fails both tests; ±Infinity is an integer to trunc() but out of every range.
  if (std::trunc(number) != number) {
    ThrowRangeError(env, "The value of " + Quoted(name) + " is out of range. It must be an integer. Received " +
                             Received(env, value));
  }
  if (number < double(min) || number > double(max)) {
    ThrowRangeError(env, "The value of " + Quoted(name) + " is out of range. It must be >= " + std::to_string(min) +
                             " && <= " + std::to_string(max) + ". Received " + Received(env, value));
  }
  return int64_t(number);
}

int32_t IntArg(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t min, int32_t max) {
  return int32_t(Integer(info.Env(), info[i], name, min, max));
}

int FdArg(const Napi::CallbackInfo& info, size_t i) { return IntArg(info, i, "fd", 0, INT32_MAX); }

double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Env env = info.Env();
  double number = 0;
  if (napi_get_value_double(env, info[i], &number) != napi_ok) ThrowTypeError(env, name, "of type number", info[i]);
  if (std::isnan(number)) ThrowRangeError(env, "The value of " + Quoted(name) + " is out of range. Received NaN");
  return number;
}

bool Given(const Napi::CallbackInfo& info, size_t i) { return i < info.Length() && !info[i].IsUndefined(); }

int ChoiceArg(const Napi::CallbackInfo& info, size_t i, const char* name, std::initializer_list<Choice> choices) {
  if (info[i].IsString()) {
    std::string text = info[i].As<Napi::String>().Utf8Value();
    for (const Choice& choice : choices) {
      if (text == choice.text) return choice.value;
    }
  }
  std::string expected;
  size_t k = 0;
  for (const Choice& choice : choices) {
    expected += (k == 0 ? "'" : k + 1 == choices.size() ? " or '" : ", '") + std::string(choice.text) + "'";
    k++;
  }
  ThrowTypeError(info.Env(), name, expected.c_str(), info[i]);
}

View TypedArray(Napi::Env env, napi_value value, const std::string& name, napi_typedarray_type type) {
  napi_typedarray_type got = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  napi_value arraybuffer = nullptr;
  if (napi_get_typedarray_info(env, value, &got, &length, &data, &arraybuffer, nullptr) != napi_ok || got != type) {
    ThrowTypeError(env, name, ArrayName(type), value);
  }
  // A detached buffer reads as empty: refuse it rather than treat it as a zero-length request (a
  // read of 0 bytes would look like end of file).
  if (length == 0 && Detached(env, arraybuffer)) {
    ThrowWithCode(
        Napi::TypeError::New(env, "The " + Quoted(name) + " argument's ArrayBuffer is detached (transferred)"),
        "ERR_INVALID_ARG_VALUE");
  }
  return View{data, length, length * ElementSize(type)};
}

Bytes BytesArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Env env = info.Env();
  View view = TypedArray(env, info[i], name, napi_uint8_array);
  size_t offset = Given(info, i + 1) ? size_t(Integer(env, info[i + 1], "offset", 0, int64_t(view.length))) : 0;
  size_t count = view.length - offset;
  if (Given(info, i + 2)) count = size_t(Integer(env, info[i + 2], "length", 0, int64_t(count)));
  // An empty array may have no storage at all: never offset a null pointer.
  return Bytes{view.data ? static_cast<uint8_t*>(view.data) + offset : nullptr, count};
}

std::vector<iovec> BufferList(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t max) {
  Napi::Env env = info.Env();
  napi_value list = info[i];
  bool is_array = false;
  if (napi_is_array(env, list, &is_array) != napi_ok || !is_array) {
    ThrowTypeError(env, name, "an array of Uint8Array", list);
  }
  uint32_t count = 0;
  Check(env, napi_get_array_length(env, list, &count));
  if (count > max) {
    ThrowRangeError(env, "The value of " + Quoted(name) + " is out of range. It must hold <= " + std::to_string(max) +
                             " buffers. Received " + std::to_string(count));
  }
  std::vector<napi_value> items(count);
  for (uint32_t k = 0; k < count; k++) Check(env, napi_get_element(env, list, k, &items[k]));
  // No JS runs from here on: the pointers stay valid until the system call is done.
  std::vector<iovec> iov(count);
  for (uint32_t k = 0; k < count; k++) {
    View view = TypedArray(env, items[k], std::string(name) + "[" + std::to_string(k) + "]", napi_uint8_array);
    iov[k] = iovec{view.data, view.bytes};
  }
  return iov;
}

PinnedArray::PinnedArray(Napi::Env env, napi_value value, const char* name, napi_typedarray_type type,
                         size_t min_length)
    : name_(name), type_(type) {
  first_ = TypedArray(env, value, name, type);
  if (first_.length < min_length) {
    ThrowRangeError(env, "The value of " + Quoted(name_) + " is out of range. It must hold >= " +
                             std::to_string(min_length) + " elements. Received " + std::to_string(first_.length));
  }
  ref_ = Napi::Persistent(Napi::Object(env, value));
}

bool PinnedArray::TryUse(Napi::Env env, size_t min_length, View* out, std::string* error) const {
  napi_typedarray_type got = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  napi_value arraybuffer = nullptr;
  if (ref_.IsEmpty() ||
      napi_get_typedarray_info(env, ref_.Value(), &got, &length, &data, &arraybuffer, nullptr) != napi_ok) {
    *error = "The " + Quoted(name_) + " array is no longer available";
    return false;
  }
  if (length < min_length) {
    *error = Detached(env, arraybuffer)
                 ? "The " + Quoted(name_) +
                       " array's ArrayBuffer was detached (transferred) after it was handed over: "
                       "its memory is no longer this object's to write; give it a new array"
                 : "The " + Quoted(name_) + " array shrank to " + std::to_string(length) +
                       " elements after it was handed over; it must hold >= " + std::to_string(min_length);
    return false;
  }
  *out = View{data, length, length * ElementSize(type_)};
  return true;
}

View PinnedArray::Use(Napi::Env env, size_t min_length) const {
  View view{nullptr, 0, 0};
  std::string error;
  if (!TryUse(env, min_length, &view, &error)) ThrowStateError(env, error);
  return view;
}

Napi::Value Result(Napi::Env env, int64_t value) {
  // Byte counts and -errno fit in an int32; napi_create_int32 makes a small integer without the
  // double round trip (every read and write returns through here).
  napi_value out = nullptr;
  napi_status status = value >= INT32_MIN && value <= INT32_MAX ? napi_create_int32(env, int32_t(value), &out)
                                                                : napi_create_double(env, double(value), &out);
  NAPI_THROW_IF_FAILED(env, status, Napi::Value());
  return Napi::Value(env, out);
}

}  // namespace pollset
