// latent's GAN module: adversarial losses, gradient penalties, conditional wrappers and the
// trainer (RECIPES R2-R7).
#pragma once
#include "gan/conditional.hpp"
#include "gan/losses.hpp"
#include "gan/penalty.hpp"
#include "gan/trainer.hpp"
