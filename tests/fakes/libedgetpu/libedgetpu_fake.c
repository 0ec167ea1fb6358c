/* Double of libedgetpu.so.1's device and version calls, with the declarations of Coral's public
 * header tflite/public/edgetpu_c.h (google-coral/libedgetpu, Apache-2.0): the attached TPUs are
 * read from VEDLIOT_FAKE_EDGETPU ("usb:/sys/bus/usb/devices/2-1;pci:/dev/apex_0"), in that order.
 * It has no delegate entry point that works: tflite_plugin_create_delegate returns NULL, as the
 * real one does when no TPU matches, so only the tflite_runtime double can "run" on it. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum edgetpu_device_type { EDGETPU_APEX_PCI = 0, EDGETPU_APEX_USB = 1 };
struct edgetpu_device { enum edgetpu_device_type type; const char* path; };

const char* edgetpu_version(void) {
  return "BuildLabel(COMPILER=fake double,DATE=redacted,TIME=redacted), RuntimeVersion(14)";
}

void edgetpu_verbosity(int verbosity) { (void)verbosity; }

struct edgetpu_device* edgetpu_list_devices(size_t* num_devices) {
  const char* spec = getenv("VEDLIOT_FAKE_EDGETPU");
  *num_devices = 0;
  if (spec == NULL || *spec == '\0') return NULL;
  size_t n = 1;
  for (const char* c = spec; *c; ++c) n += (*c == ';');
  size_t len = strlen(spec) + 1;
  char* memory = malloc(sizeof(struct edgetpu_device) * n + len);
  struct edgetpu_device* devs = (struct edgetpu_device*)memory;
  char* text = memory + sizeof(struct edgetpu_device) * n;
  memcpy(text, spec, len);
  size_t i = 0;
  for (char* item = strtok(text, ";"); item != NULL; item = strtok(NULL, ";")) {
    char* colon = strchr(item, ':');
    if (colon == NULL) continue;
    *colon = '\0';
    devs[i].type = strcmp(item, "pci") == 0 ? EDGETPU_APEX_PCI : EDGETPU_APEX_USB;
    devs[i].path = colon + 1;
    ++i;
  }
  *num_devices = i;
  return devs;
}

void edgetpu_free_devices(struct edgetpu_device* dev) { free(dev); }

void* tflite_plugin_create_delegate(char** keys, char** values, size_t n, void (*report)(const char*)) {
  (void)keys; (void)values; (void)n; (void)report;
  return NULL;
}

void tflite_plugin_destroy_delegate(void* delegate) { (void)delegate; }
