// stb_image's implementation, from Debian's libstb-dev header (the decoder
// llama.cpp vendors; tested to give its JPEG pixels bit for bit), limited to
// the formats scout reads so nothing else is tried on unknown bytes.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_ONLY_PNM
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#include <stb/stb_image.h>
