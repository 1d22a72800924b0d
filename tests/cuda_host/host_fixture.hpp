// Fixture of the host runs of the CUDA code: a HostDevice installed behind the seam and the
// scalar reference kernel forced on the host side, which the CUDA kernels must match bit for
// bit (the SIMD kernels may round differently, within their stated ulps).
#pragma once
#include <gtest/gtest.h>

#include "../../cuda/rotate_unit.hpp"
#include "host_device.hpp"
#include "rotor/rotor.h"
#include "rotor/rotor_cuda.h"
#include "support/cuda_case.hpp"

class CudaOnHost : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(rotor_kernel_force("scalar"), ROTOR_OK);
    rotor::cuda::host_misaligned_vector_accesses() = 0;
  }
  void TearDown() override {
    EXPECT_EQ(rotor::cuda::host_misaligned_vector_accesses(), 0u)
        << "a vector access at an address a GPU cannot load from";
  }
  host_device::HostDevice device;
};

// The mirror handle the GPU tests use too (support/cuda_case.hpp).
using cuda_case::MirrorHandle;
