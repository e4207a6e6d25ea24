// latent's diffusion module: beta schedules, the DDPM and DDIM schedulers (diffusers'
// surface), a sampling loop and the denoising U-Net (RECIPES R9-R10).
#pragma once
#include "diffusion/ddim.hpp"
#include "diffusion/ddpm.hpp"
#include "diffusion/sampling.hpp"
#include "diffusion/scheduler.hpp"
#include "diffusion/schedule.hpp"
#include "diffusion/unet.hpp"
